# %% [markdown]
# # Part V: the whole backward pass (seed 003)
#
# <div class="admonition abstract">
# <p class="admonition-title">What this page assumes and what it teaches</p>
# <p><b>You need:</b> the chain rule, NumPy arrays (shapes, broadcasting,
# <code>reshape</code>), and what a convolution, a ReLU and a 2x2 max pool
# compute in the forward direction.</p>
# <p><b>You will learn:</b> how the gradient of the loss travels back through
# every layer of seed 003's network, one small array at a time: softmax and
# cross-entropy, two dense layers, the flatten, max pooling (the gradient goes
# to each window's maximum), ReLU, and the convolution (the kernel gradient is
# a correlation of the input with the upstream gradient); how to write all of
# it in about 40 lines of NumPy, and how to check every gradient with central
# differences.</p>
# </div>
#
# This page continues **"Simple CNN using NumPy Part IV (Back Propagation
# Through Fully Connected Layers)"** by Pradeep Adhokshaja, published in
# *Analytics Vidhya* on Medium, 20 June 2021 (seed 003). Part IV ends at the
# gradient with respect to the flattened pool output and announces
# "Back propagation through max pooling filters, convolutional output layer &
# the convolutional filters" for the next post, which is not among the seeds.
# Here is that part, for the same network at a size whose every number fits
# on the screen. The derivations behind each step are on the layer pages:
# [dense, softmax and cross-entropy](../layers/dense_softmax.html),
# [activations](../layers/activations.html),
# [max pooling](../layers/max_pool.html) and
# [multi-channel convolution](../layers/conv2d.html).
#
# Every number below is computed when the site is built, and the page's
# checks (`assert`) stop the build if one fails. Take it with you: the
# notebook source [`part5_backward.py`](part5_backward.py) (jupytext
# percent format), or the `.ipynb` from the download line under the title.

# %% tags=["hide_input"]
# This page's layout: on narrow screens no "In [n]:" prompts, so that the
# printed arrays get the column's whole width; wide formulas scroll.
from IPython.display import HTML, display

display(HTML("<style>@media (max-width: 600px) { .jupyter-wrapper "
             ".jp-InputPrompt, .jupyter-wrapper .jp-OutputPrompt "
             "{ display: none !important; } } .jupyter-wrapper "
             ".jp-RenderedLatex { overflow-x: auto; }</style>"))

# %% [markdown]
# ## The network, small
#
# Seed 003's network, with every size shrunk: one 6x6 image instead of
# N 28x28 ones, two 3x3 kernels instead of two 5x5, a hidden layer of 4
# instead of 60, and 3 classes instead of 10. The operations are the same.
#
# | array | shape here (seed 003) |
# |---|---|
# | `x` = input | 1,1,6,6 (N,1,28,28) |
# | `z` = conv | 1,2,4,4 (N,2,24,24) |
# | `a` = ReLU | 1,2,4,4 (N,2,24,24) |
# | `m` = max pool | 1,2,2,2 (N,2,12,12) |
# | `f` = flatten | 1,8 (288,N) |
# | `z1` = dense | 1,4 (60,N) |
# | `h` = ReLU | 1,4 (60,N) |
# | `s` = dense | 1,3 (10,N) |
# | `p` = softmax | 1,3 (10,N) |
#
# The conv has kernels `conv_w` of shape (2, 1, 3, 3) (2 output channels,
# 1 input channel) and a bias `conv_b`; the max pool takes 2x2 windows with
# stride 2, so they do not overlap; the dense layers have weights `w1`, `w2`
# and biases `b1`, `b2`. `s` are the logits; the loss is the cross-entropy
# of `p` with the label `t`.
#
# **Layout.** The library keeps one sample per *row* (images NCHW, dense
# layers `(N, features)`, `z1 = f @ w1 + b1`), while seed 003 keeps one sample
# per *column* (`(features, N)`, `W1 @ X + B0`), so each of the seed's
# matrices is the transpose of ours. Where the names differ:
#
# | here | seed 003 |
# |---|---|
# | `f` (1, 8) | `X_maxpool_flatten` (288, N) |
# | `w1` (8, 4) | `W1` (60, 288) |
# | `b1` (4,) | `B0` (60, 1) |
# | `h` (1, 4) | `fc1` (60, N) |
# | `w2` (4, 3) | `W2` (10, 60) |
# | `b2` (3,) | `B1` (10, 1) |
# | `p`, one-hot `y` | `final_fc`, `y_batch` |
# | gradient at `s`, `z1`, `f` | `delta_2`, `delta_1`, `delta_0` |
#
# **Batch.** The library's loss is the *mean* over the batch, so every
# gradient carries a factor 1/N; seed 003's formulas have none (they are the
# gradients of the *sum*; see [Conventions](../conventions.html#sum-or-mean-over-the-batch)).
# With the batch of one image used here the two are the same; what changes
# for N > 1 is at the end of the page.
#
# **Convolution** here is a cross-correlation, as in PyTorch: the kernel is
# not flipped ([why that matters](../conventions.html#convolution-and-cross-correlation)).

# %% [markdown]
# ## The numbers
#
# Small integers for the image, one-decimal values for the weights, drawn
# with a fixed seed (93, chosen so that the example has no kink, see below).
# Each array is printed after its name and shape; the printout leaves out
# the axes of length 1 (the batch of one image, its single channel).

# %%
import numpy as np
from IPython.display import Math

import cnn
import derivations


def show(name, arr):
    """Print an array's name and shape, then its values rounded to 3
    decimals (without its axes of length 1, e.g. the batch of one)."""
    arr = np.asarray(arr)
    body = np.squeeze(arr) if arr.ndim > 1 else arr
    if body.dtype.kind == "f":
        body = np.round(body, 3) + 0.0            # + 0.0: no "-0."
    print(name, str(arr.shape).replace(" ", ""))
    print(np.array2string(body, precision=3, suppress_small=True,
                          max_line_width=34), "\n")


rng = np.random.default_rng(93)
x = rng.integers(0, 4, (1, 1, 6, 6)).astype(float)  # pixels 0..3
conv_w = rng.integers(-5, 6, (2, 1, 3, 3)) / 10     # two 3x3 kernels
conv_b = np.array([0.1, -0.1])
w1 = rng.integers(-5, 6, (8, 4)) / 10               # dense 8 -> 4
b1 = np.array([0.1, -0.1, 0.2, 0.0])
w2 = rng.integers(-5, 6, (4, 3)) / 10               # dense 4 -> 3
b2 = np.array([0.0, 0.1, -0.1])
t = np.array([2])                                   # the label
P = {"conv_w": conv_w, "conv_b": conv_b,
     "w1": w1, "b1": b1, "w2": w2, "b2": b2}

show("x", x)
show("conv_w", conv_w)
show("conv_b", conv_b)
show("w1", w1)
show("b1", b1)
show("w2", w2)
show("b2", b2)
print("label t =", t)

# %% [markdown]
# ## Forward pass
#
# The library's layer functions, one per line. `forward` keeps every
# intermediate array, because the backward functions take the forward values
# they need explicitly.

# %%
def forward(x, t, P):
    """Seed 003's network from the library's layers: the loss and
    every intermediate array."""
    v = {"x": x}
    v["z"] = cnn.conv2d(x, P["conv_w"], P["conv_b"])   # (N, 2, 4, 4)
    v["a"] = cnn.relu(v["z"])
    v["m"] = cnn.max_pool2d(v["a"], size=2, stride=2)  # (N, 2, 2, 2)
    v["f"] = v["m"].reshape(len(x), -1)                # (N, 8)
    v["z1"] = cnn.dense(v["f"], P["w1"], P["b1"])      # (N, 4)
    v["h"] = cnn.relu(v["z1"])
    v["s"] = cnn.dense(v["h"], P["w2"], P["b2"])       # (N, 3) logits
    v["loss"], v["ds"] = cnn.softmax_cross_entropy(v["s"], t)
    return v


v = forward(x, t, P)
z, a, m, f, z1, h, s = (v[k] for k in "z a m f z1 h s".split())
show("z = conv2d(x, conv_w, conv_b)", z)
show("a = relu(z)", a)

# %% [markdown]
# Each entry of `z` is one 3x3 window of `x` times a kernel, summed, plus the
# bias: for example `z[0, 0, 0, 0]` is the top-left 3x3 block of `x` times
# kernel 0. The pool then keeps the largest entry of each 2x2 block of `a`:

# %%
by_hand = np.sum(x[0, 0, :3, :3] * conv_w[0, 0]) + conv_b[0]
print("z[0,0,0,0] by hand:", round(by_hand, 3), "\n")
show("m = max_pool2d(a)", m)
show("f = m.reshape(1, -1)", f)
show("z1 = f @ w1 + b1", z1)
show("h = relu(z1)", h)
show("s = h @ w2 + b2", s)
p = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
show("p = softmax(s)", p)
print(f"loss = -log p[t] = {v['loss']:.4f}")

# %% [markdown]
# ### No kinks in this example
#
# ReLU has a corner at 0 and max pooling has one where two entries of a
# window are equal: there the loss is not differentiable, the library picks
# one of the one-sided slopes ([Conventions: kinks](../conventions.html#kinks-relu-at-0-and-ties-in-max-pooling)),
# and a central difference, which averages the slopes on both sides, would
# disagree with it. The random seed 93 gives an example far from every corner: no
# ReLU input within 0.05 of 0, and in every pool window a unique, positive
# maximum at least 0.05 above the runner-up. The step of the central
# differences below is 1e-6, far smaller than these margins.

# %%
# each 2x2 window of a as a row of 4 (n, channel, window row, window col)
windows = a.reshape(1, 2, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
windows = windows.reshape(1, 2, 2, 2, 4)
top2 = np.sort(windows, axis=-1)[..., -2:]    # two largest per window
margins = {"min |z|": np.abs(z).min(),
           "min |z1|": np.abs(z1).min(),
           "min window max": top2[..., 1].min(),
           "min gap max-second": (top2[..., 1] - top2[..., 0]).min()}
for k_, val in margins.items():
    print(f"{k_:>18}: {val:.2f}")
assert min(margins.values()) > 0.05, margins

# %% [markdown]
# ## Backward pass, layer by layer
#
# From the loss back to the kernels. Each step is one call of the library's
# backward function for that layer; it takes the gradient arriving from
# above (the *upstream* gradient) and the forward values it needs. Every
# gradient has the shape of the array it belongs to.
#
# ### Softmax and cross-entropy
#
# The gradient with respect to the logits is `(p - y) / N`, with `y` the
# one-hot label (the exported formula is at the end of the page). With N = 1:
# `p - y`. `cnn.softmax_cross_entropy` returned it with the loss.

# %%
y = np.eye(3)[t]
ds = v["ds"]
show("y (one-hot)", y)
show("ds = p - y", ds)
assert np.allclose(ds, p - y)

# %% [markdown]
# ### Dense 2
#
# The layer `s = h @ w2 + b2`. `cnn.dense_backward(dy, x, w)` returns the
# gradients with respect to the layer's input, its weights and its bias:
# `dy @ w.T`, `x.T @ dy` and the sum of `dy` over the batch. Row 1 of
# `dL/dw2` is 0: hidden unit 1 output `h = 0`, so its weights did not
# matter.

# %%
dh, g_w2, g_b2 = cnn.dense_backward(ds, h, w2)
show("dL/dw2 = h.T @ ds", g_w2)
show("dL/db2", g_b2)
show("dh = ds @ w2.T", dh)

# %% [markdown]
# ### ReLU, then dense 1
#
# ReLU passes the gradient where its input was positive and blocks it where
# it was negative: hidden unit 1 had `z1 < 0`, so it gets nothing, and
# neither does its column of `w1` nor its bias.

# %%
dz1 = cnn.relu.backward(dh, z1)
df, g_w1, g_b1 = cnn.dense_backward(dz1, f, w1)
show("dz1 = dh * (z1 > 0)", dz1)
show("dL/dw1 = f.T @ dz1", g_w1)
show("dL/db1", g_b1)
show("df = dz1 @ w1.T", df)

# %% [markdown]
# ### Where Part IV stopped
#
# Seed 003's own lines for this part, run on the same numbers in its column
# layout, give the transposes of the arrays above (times N, which is 1 here).
# Its last line, `delta_0`, is the gradient with respect to the flattened
# pool output: the start of Part V.

# %%
def dReLU(x):                      # seed 003's
    return (x > 0) * 1.0


N = len(x)
X_maxpool_flatten, fc1, final_fc, y_batch = f.T, h.T, p.T, y.T
W1, B0, W2 = w1.T, b1[:, None], w2.T
delta_2 = final_fc - y_batch
dW2 = delta_2 @ fc1.T
dB1 = np.sum(delta_2, axis=1, keepdims=True)
delta_1 = np.multiply(W2.T @ delta_2,
                      dReLU(W1 @ X_maxpool_flatten + B0))
dW1 = delta_1 @ X_maxpool_flatten.T
dB0 = np.sum(delta_1, axis=1, keepdims=True)
delta_0 = np.multiply(W1.T @ delta_1, 1.0)
pairs = [("dW2", dW2, g_w2.T), ("dB1", dB1, g_b2[:, None]),
         ("dW1", dW1, g_w1.T), ("dB0", dB0, g_b1[:, None]),
         ("delta_0", delta_0, df.T)]
for seed_name, seed_value, ours in pairs:
    assert np.allclose(seed_value, N * ours)
    print(f"{seed_name:>7} {str(seed_value.shape):>7} = N * ours.T")

# %% [markdown]
# ### Un-flatten
#
# The flatten only rearranged numbers, so its backward pass rearranges them
# back: `df` reshaped to the pool output's shape (1, 2, 2, 2).

# %%
dm = df.reshape(m.shape)
show("dm = df.reshape(m.shape)", dm)

# %% [markdown]
# ### Max pooling
#
# Each pool output is one entry of its 2x2 window, the maximum; the other
# three entries did not influence the loss at all. So the whole gradient of
# a window goes to the entry that won, and the three others get 0. The mask
# marks the winners (1) of each window; `da` is `dm` placed at the winners.

# %%
da = cnn.max_pool2d_backward(dm, a, size=2, stride=2)
m_up = np.repeat(np.repeat(m, 2, axis=2), 2, axis=3)  # m, per entry
winner = (a == m_up).astype(int)
show("winner mask", winner)
show("da = max_pool2d_backward(dm, a)", da)
assert winner.sum() == m.size and np.array_equal(da != 0, winner == 1)

# %% [markdown]
# ### ReLU
#
# Here ReLU changes nothing: only the pool's winners carry a gradient, and
# each winner is positive (asserted above), where ReLU passes the gradient
# unchanged. With ReLU before the pool this step can only matter in a window
# whose four entries are all negative, so that its maximum is a four-way tie
# at 0, the kind of kink this example avoids (and then no gradient passes
# either way).

# %%
dz = cnn.relu.backward(da, z)
show("dz = da * (z > 0)", dz)

# %% [markdown]
# ### The convolution
#
# In the forward pass, output `z[0, f, r, c]` took kernel weight
# `conv_w[f, 0, i, j]` times pixel `x[0, 0, r + i, c + j]`. So that weight
# met, over the 16 outputs of channel `f`, the 4x4 block of `x` that starts
# at `(i, j)`, and its gradient is that block times `dz[0, f]`, summed.
# Over all `(i, j)` this is the **correlation of the input with the upstream
# gradient `dz`**: slide the 4x4 `dz` over the 6x6 `x` and you get a 3x3
# result, the kernel's shape. The bias gradient is the sum of `dz` over each
# channel. `cnn.conv2d_backward` returns both, and the gradient with respect
# to `x`, which the first layer does not need (a second convolution layer
# would: see the
# [convolution page](../layers/conv2d.html#the-gradients-are-convolutions-too)).

# %%
dx, g_conv_w, g_conv_b = cnn.conv2d_backward(dz, x, conv_w)
show("dL/dconv_w", g_conv_w)
show("dL/dconv_b", g_conv_b)
lib = {"conv_w": g_conv_w, "conv_b": g_conv_b,
       "w1": g_w1, "b1": g_b1, "w2": g_w2, "b2": g_b2}

# %% [markdown]
# One weight by hand, `conv_w[0, 0, 0, 0]`: the top-left 4x4 block of `x`
# times `dz[0, 0]`. Only the pool's winners have a non-zero `dz`, so four
# products remain:

# %%
block = x[0, 0, 0:4, 0:4]
show("x[0, 0, 0:4, 0:4]", block)
terms = [f"{block[r, c]:.0f} * {dz[0, 0, r, c]:.3f}"
         for r, c in zip(*np.nonzero(dz[0, 0]))]
print("  " + "\n+ ".join(terms), "\n=", round(np.sum(block * dz[0, 0]), 3))
# the whole 3x3 gradient as one correlation: conv2d of x with dz
as_correlation = cnn.conv2d(x, dz.transpose(1, 0, 2, 3))
print("equals dL/dconv_w:",
      np.allclose(as_correlation.transpose(1, 0, 2, 3), g_conv_w))

# %% [markdown]
# ## The same backward pass in plain NumPy
#
# The cell below is the whole network, forward and backward, in NumPy only:
# copy it into a file and it runs (it needs nothing from this project). It
# takes a batch, averages the loss over it like the library, and handles any
# image size whose conv output is even. Its pooling step assumes no ties
# (a tie would send the gradient to every tied entry).

# %%
# --- begin: the network by hand, NumPy only ---
import numpy as np


def loss_and_grads(x, t, P):
    """x: (N, 1, H, W) images, t: (N,) labels, P: dict of parameters.
    Returns the batch-mean cross-entropy and every parameter's gradient."""
    K, N = P["conv_w"], len(x)
    F, k = len(K), K.shape[-1]
    OH, OW = x.shape[2] - k + 1, x.shape[3] - k + 1
    # forward; conv = cross-correlation (no flip), one kernel offset a time
    z = np.zeros((N, F, OH, OW)) + P["conv_b"][:, None, None]
    for i in range(k):
        for j in range(k):
            z += K[:, 0, i, j, None, None] * x[:, :, i:i + OH, j:j + OW]
    a = np.maximum(z, 0)                                 # ReLU
    win = a.reshape(N, F, OH // 2, 2, OW // 2, 2)        # 2x2 windows
    m = win.max(axis=(3, 5))                             # max pool
    f = m.reshape(N, -1)                                 # flatten
    z1 = f @ P["w1"] + P["b1"]
    h = np.maximum(z1, 0)                                # dense 1, ReLU
    s = h @ P["w2"] + P["b2"]                            # dense 2
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)                    # softmax
    loss = -np.log(p[np.arange(N), t]).mean()
    # backward
    ds = (p - np.eye(s.shape[1])[t]) / N                 # mean: 1/N
    g = {"w2": h.T @ ds, "b2": ds.sum(axis=0)}
    dz1 = (ds @ P["w2"].T) * (z1 > 0)                    # ReLU
    g["w1"], g["b1"] = f.T @ dz1, dz1.sum(axis=0)
    dm = (dz1 @ P["w1"].T).reshape(m.shape)              # un-flatten
    winner = win == m[:, :, :, None, :, None]            # no ties here
    da = (winner * dm[:, :, :, None, :, None]).reshape(a.shape)
    dz = da * (z > 0)                                    # ReLU
    g["conv_w"] = np.zeros_like(K)      # correlation of x with dz:
    for i in range(k):
        for j in range(k):
            xij = x[:, :, i:i + OH, j:j + OW]
            g["conv_w"][:, 0, i, j] = (dz * xij).sum(axis=(0, 2, 3))
    g["conv_b"] = dz.sum(axis=(0, 2, 3))
    return loss, g
# --- end: the network by hand ---

# %% [markdown]
# It agrees with the library's layers above, and with `cnn.MnistNet`, the
# network class the training uses (seed 003's network with its sizes as
# arguments; it computes the same gradients along a faster, fused path):

# %%
loss_by_hand, by_hand = loss_and_grads(x, t, P)
net = cnn.MnistNet(input_shape=(6, 6), n_filters=2, kernel_size=3,
                   hidden=4, n_classes=3, dtype="float64")
net.set_params(P)
loss_net, by_net, _ = net.loss_and_grads(x, t)
print("largest |difference|\nfrom the library's layers")
print(f"{'':7}{'by hand':>9}{'MnistNet':>10}")
for name in lib:
    d_hand = np.abs(by_hand[name] - lib[name]).max()
    d_net = np.abs(by_net[name] - lib[name]).max()
    print(f"{name:7}{d_hand:9.0e}{d_net:10.0e}")
    assert d_hand < 1e-12 and d_net < 1e-12, name
for other in (loss_by_hand, loss_net):
    assert abs(other - v["loss"]) < 1e-12

# %% [markdown]
# ## Central differences: every gradient checked
#
# A gradient says how much the loss changes when one parameter moves. So
# move it: for every entry of every parameter, evaluate the loss (the
# forward pass only) at the entry plus and minus a small step
# h = 1e-6, and divide the difference by 2h. Next to the gradients from the
# backward pass, the relative error per parameter array
# (norm of the difference over the sum of the norms) is below 1e-6; the
# cell stops the build if it is not.

# %%
def central_differences(loss_of, P, h=1e-6):
    """d loss_of(P) / dP by central differences, entry by entry."""
    grads = {}
    for name, arr in P.items():
        grads[name] = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            plus, minus = dict(P), dict(P)
            plus[name], minus[name] = arr.copy(), arr.copy()
            plus[name][idx] += h
            minus[name][idx] -= h
            grads[name][idx] = (loss_of(plus) - loss_of(minus)) / (2 * h)
    return grads


numeric = central_differences(lambda Q: forward(x, t, Q)["loss"], P)
norm = np.linalg.norm
print(f"{'param':7}{'shape':>13}{'rel. error':>12}")
errors = {}
for name in lib:
    errors[name] = (norm(numeric[name] - lib[name])
                    / (norm(numeric[name]) + norm(lib[name])))
    print(f"{name:7}{str(lib[name].shape):>13}{errors[name]:12.1e}")
assert max(errors.values()) < 1e-6, errors

# %% [markdown]
# ## Where each step comes from
#
# Every backward function used above implements a formula that a SymPy
# derivation produced and pytest ties to the code; the derivations, entry by
# entry and for every size, are on the layer pages. Four of them, straight
# from the exports. In them $G$ is the upstream gradient (what arrives from
# above: `ds`, `dh`, `dm`, `dz` on this page), and $x$ and $w$ are the
# layer's own input and weights.
#
# - softmax and cross-entropy, the start of the backward pass (index form,
#   for every N and K; [the page](../layers/dense_softmax.html#softmax-and-cross-entropy)):

# %%
ds_export = derivations.load("dense_softmax")
display(Math(ds_export.formula("index_form", "dL/dz[m,i]").equation))
print(ds_export.facts["softmax_ce_gradient_index_form"]["statement"])

# %% [markdown]
# - a dense layer's weights, `x.T @ dy` ([the page](../layers/dense_softmax.html#the-dense-layer)):

# %%
display(Math(ds_export.formula("index_form", "dL/dw[a,c]").equation))

# %% [markdown]
# - max pooling: each entry receives the gradient of the windows whose
#   maximum it is ([the page](../layers/max_pool.html#where-the-gradient-goes)):

# %%
pool_facts = derivations.load("max_pool").facts
display(Math(pool_facts["routing_is_derivative_of_max"]["latex"]))

# %% [markdown]
# - the convolution's kernels: the correlation (corr) of the input with the
#   upstream gradient, and the bias: the sum of the upstream gradient. Here
#   $x^p$ is the input with its zero padding (none on this page) and
#   $\operatorname{dil}_s$ spreads $G$ out for a stride $s$ (nothing to do
#   at stride 1;
#   [the page](../layers/conv2d.html#the-gradients-are-convolutions-too)):

# %%
conv_facts = derivations.load("conv2d").facts
for fact_name in ("dw_is_correlation_of_input_with_upstream",
                  "db_is_sum_of_upstream"):
    display(Math(conv_facts[fact_name]["latex"]))

# %% [markdown]
# ## A batch of N > 1
#
# Nothing in the steps changes shape except the batch axis. Two things change
# in value: the gradient at the logits is divided by N (the loss is a mean),
# and every parameter gradient sums over the batch (`x.T @ dy` in a dense
# layer sums over the rows; the kernel gradient sums the correlations of
# every image with its own `dz`). Seed 003's formulas, with no 1/N, are the
# gradients of the *sum* of the losses: N times ours. Both are right for
# their own loss; using one with a learning rate tuned for the other scales
# the step by N. Exercise 3 measures it.

# %% [markdown]
# ## Exercises
#
# Each answer is folded: open it after trying. It is computed by the
# notebook, so it cannot be out of date.
#
# **1. Predict two gradients.** Keep the image and the weights, but let the
# label be class 0 instead of 2. The forward pass does not change (`p` is
# above). What are `dL/db2` and `dL/db1` now? Work it out from the arrays
# printed above before opening the answer.

# %% tags=["hide_input"]
def answer(*parts):
    """Show an exercise's answer folded: text (str) and arrays ((name, array) pairs)."""
    html = []
    for part in parts:
        if isinstance(part, str):
            html.append(f"<p>{part}</p>")
        else:
            name, arr = part
            arr = np.squeeze(arr)
            if arr.dtype.kind == "f":
                arr = np.round(arr, 3) + 0.0
            text = np.array2string(arr, precision=3, suppress_small=True,
                                   max_line_width=40)
            html.append(f"<pre><code>{name} =\n{text}</code></pre>")
    display(HTML('<details class="success"><summary>Answer</summary>'
                 + "".join(html) + "</details>"))


v0 = forward(x, np.array([0]), P)
dh0, _, g_b2_0 = cnn.dense_backward(v0["ds"], h, w2)
_, _, g_b1_0 = cnn.dense_backward(cnn.relu.backward(dh0, z1), f, w1)
assert np.allclose(g_b2_0, p[0] - np.eye(3)[0])
answer("<code>dL/db2</code> is the gradient at the logits, <code>p - y</code>, "
       "now with <code>y = [1, 0, 0]</code>: <code>p</code> with 1 taken off its "
       "first entry. <code>dL/db1</code> is that times <code>w2.T</code>, with the "
       "entry of hidden unit 1 set to 0 (its <code>z1</code> is negative). "
       "Computed by the library:",
       ("dL/db2", g_b2_0), ("dL/db1", g_b1_0))

# %% [markdown]
# **2. Find the bug.** This max-pool backward pass, written with loops, looks
# plausible and gives the right result on some windows. Which windows does
# it get wrong, and why?

# %%
def max_pool_backward_buggy(dm, a):
    da = np.zeros_like(a)
    for n, c, i, j in np.ndindex(dm.shape):
        window = a[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
        k = np.argmax(window)      # 0..3, the window read row by row
        col, row = divmod(k, 2)
        da[n, c, 2 * i + row, 2 * j + col] = dm[n, c, i, j]
    return da

# %% tags=["hide_input"]
da_buggy = max_pool_backward_buggy(dm, a)
wrong = np.abs(da_buggy - da).reshape(1, 2, 2, 2, 2, 2).sum(axis=(3, 5)) > 0
_, g_conv_w_buggy, _ = cnn.conv2d_backward(cnn.relu.backward(da_buggy, z), x, conv_w)
err_buggy = (np.linalg.norm(g_conv_w_buggy - numeric["conv_w"])
             / (np.linalg.norm(g_conv_w_buggy) + np.linalg.norm(numeric["conv_w"])))
assert wrong.any() and not wrong.all() and err_buggy > 1e-2
answer("<code>divmod(k, 2)</code> returns <code>(row, column)</code>, not "
       "<code>(column, row)</code>: the names are swapped, so the gradient lands on "
       "the winner's mirror image across the window's diagonal. Windows whose "
       "maximum is on the diagonal (top-left or bottom-right) come out right; the "
       "others send their gradient to an entry that was not the maximum. Wrong "
       "windows (1) on this example, per channel:",
       ("wrong windows", wrong[0].astype(int)),
       ("da from the buggy snippet", da_buggy),
       f"Carried on through ReLU and the convolution, the kernel gradient has a "
       f"relative error of {err_buggy:.2f} against the central differences "
       f"(the correct one: {errors['conv_w']:.0e}). The fix: "
       "<code>row, col = divmod(k, 2)</code>, or <code>np.unravel_index(k, (2, 2))</code>.")

# %% [markdown]
# **3. Sum or mean?** A batch of two images: this one and its mirror
# image, labelled 2 and 0. The snippet computes the last layer's gradients
# as seed 003 does (`delta_2 = final_fc - y_batch`, in our layout). By what
# factor do its results differ from the library's, and for which loss are
# they the right gradients?

# %%
xb = np.concatenate([x, x[:, :, :, ::-1]])   # (2, 1, 6, 6)
tb = np.array([2, 0])


def dense2_gradients_seed003(p, y, h):
    delta_2 = p - y                   # seed 003: no division by N
    return h.T @ delta_2, delta_2.sum(axis=0)         # dW2.T, dB1.T

# %% tags=["hide_input"]
_, grads_mean = loss_and_grads(xb, tb, P)
vb = forward(xb, tb, P)
pb = vb["ds"] * len(xb) + np.eye(3)[tb]          # the batch's softmax
g_w2_sum, g_b2_sum = dense2_gradients_seed003(pb, np.eye(3)[tb], vb["h"])
pairs = [(g_w2_sum, grads_mean["w2"]), (g_b2_sum, grads_mean["b2"])]
ratio_values = np.concatenate([s_[m_ != 0] / m_[m_ != 0]   # 0 rows: skip
                               for s_, m_ in pairs])
summed = central_differences(lambda Q: len(xb) * forward(xb, tb, P | Q)["loss"],
                             {"w2": w2, "b2": b2})                # the summed loss
err_sum = max(np.linalg.norm(summed[k_] - g) / (np.linalg.norm(summed[k_]) + np.linalg.norm(g))
              for k_, g in (("w2", g_w2_sum), ("b2", g_b2_sum)))
assert np.allclose(ratio_values, 2.0) and err_sum < 1e-6
answer(f"Every gradient is exactly N = {len(xb)} times the library's: the ratios of "
       f"<code>dL/dw2</code> and <code>dL/db2</code> entry by entry are all "
       f"{ratio_values.min():.6f} to {ratio_values.max():.6f}, and the factor "
       "would travel unchanged down to the kernels (each later step is linear in "
       "it). Without the 1/N these are the "
       "gradients of the <b>sum</b> of the two images' losses, and right for it: "
       f"against central differences of the summed loss their relative error is "
       f"{err_sum:.0e}. Neither is a bug alone; the bug is mixing them, e.g. "
       "tuning a learning rate with one and training with the other, which scales "
       "every step by the batch size.",
       ("dL/db2, library (mean)", grads_mean["b2"]), ("dL/db2, seed 003 (sum)", g_b2_sum))
