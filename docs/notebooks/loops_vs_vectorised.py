# %% [markdown]
# # Loops against vectorised NumPy
#
# Seed 001 trained an MNIST CNN (conv, max pool, flatten, dense, softmax,
# cross-entropy) written with "A LOT of for loops", and warned that it "will
# take a long time". This page times the same kind of code against the
# vectorised layers of `cnn` on the same batch, and checks they compute the
# same numbers.
#
# * The loop version: `cnn.reference`, the layers written as their textbook
#   definitions: one Python loop per index, one window at a time. It is the
#   slow reference the tests check the fast layers against.
# * The vectorised version: `cnn.MnistNet.loss_and_grads` (the library's fast
#   algorithms: the banded-matrix convolution, pooling before ReLU, matrix
#   products).
#
# Both run one forward and backward pass of seed 003's network (conv
# (2, 1, 5, 5), ReLU, 2x2 max pool, dense 288 -> 60, ReLU, dense 60 -> 10,
# softmax cross-entropy) in float32 with one BLAS thread.
#
# This page is executed when the site is built, on scikit-learn's digits
# placed on a 28x28 canvas (no download). The same comparison on real MNIST,
# from the root of the checkout:
#
#     python -m studies.loops_vs_vectorised --data DIR --out docs/results/loops_vs_vectorised.json
#
# Timings on the build machine are noisy; the ratios are what matters.

# %%
import inspect
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, display
from threadpoolctl import threadpool_limits

import cnn
from cnn import reference
from cnn.data import load_digits
from cnn.networks.composed import composed_loss_and_grads

# The study and its record live in the checkout, not in the installed
# package: put the checkout on sys.path.
sys.path.insert(0, str(Path(cnn.__file__).resolve().parents[1]))
from studies import loops_vs_vectorised as lv, load_record  # noqa: E402

threadpool_limits(limits=1, user_api="blas")   # as `cnn train`: one BLAS thread

data = load_digits(canvas=True)                 # sklearn digits on a 28x28 canvas
net = cnn.MnistNet(input_shape=data.image_shape, dtype="float32", seed=0)
net.fit_input_scaling(data.X_train)
x, y = data.X_train[:16], data.y_train[:16]
print(net)
print("batch:", x.shape, x.dtype)

# %% [markdown]
# ## The loop version
#
# The forward and backward pass, layer by layer: the network's one composed
# definition, `cnn.networks.composed.composed_loss_and_grads` (the tests hold
# `MnistNet` to it). Its `layers` argument says where the layer functions
# come from; the loop version passes the layers of `cnn.reference`
# (`lv.LOOP_LAYERS`):

# %%
print(inspect.getsource(composed_loss_and_grads).split('"""')[-1])
print(inspect.getsource(lv.loop_loss_and_grads).split('"""')[-1])

# %% [markdown]
# and one of those layers, the convolution, as loops:

# %%
print(inspect.getsource(reference.conv2d))

# %% [markdown]
# ## Same numbers, and the time each takes
#
# `compare` runs both on the same 16 images, keeps the best of a few rounds
# for each, and compares the loss and every gradient.

# %%
result = lv.compare(net, x, y, loop_repeats=3, vec_repeats=5)
print(f"loops:      {1e3 * result['loop_seconds']:9.1f} ms per step "
      f"({1e3 * result['loop_seconds_per_image']:.1f} ms per image)")
print(f"vectorised: {1e3 * result['vectorised_seconds']:9.3f} ms per step")
print(f"speed-up:   {result['speedup']:9.0f}x")
print(f"\nloss: loops {result['loss_loop']:.7f}, vectorised {result['loss_vectorised']:.7f}")
print("largest |difference| of each gradient, over its largest |entry|:")
for k, d in result["max_relative_difference"].items():
    print(f"  {k:<7} {d:.1e}")

# %% [markdown]
# The differences are float32 rounding: the two versions add the same terms in
# a different order. The same check in float64, on 4 images:

# %%
net64 = cnn.MnistNet(input_shape=data.image_shape, dtype="float64", seed=0)
net64.fit_input_scaling(data.X_train)
r64 = lv.compare(net64, x[:4], y[:4], vec_repeats=1)
print(f"float64: loss difference {r64['loss_relative_difference']:.1e}, largest gradient "
      f"difference {max(r64['max_relative_difference'].values()):.1e}")

# %% [markdown]
# (`tests/test_studies.py` requires at most $10^{-10}$ in float64 and
# $10^{-4}$ in float32.)
#
# ## Where the time goes, layer by layer

# %%
def best(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


xs = (x.astype(np.float32) - np.float32(net.config["input_mean"])) / np.float32(
    net.config["input_std"])
p = net.params
z = cnn.conv2d(xs, p["conv_w"], p["conv_b"])
a = cnn.relu(z)
pooled = cnn.max_pool2d(a)
f = pooled.reshape(len(xs), -1)
dz = np.ones_like(z)
dpool = np.ones_like(pooled)
dh = np.ones((len(xs), 60), np.float32)

layers = {
    "conv forward": (lambda: reference.conv2d(xs, p["conv_w"], p["conv_b"]),
                     lambda: cnn.conv2d(xs, p["conv_w"], p["conv_b"])),
    "conv backward": (lambda: reference.conv2d_backward(dz, xs, p["conv_w"]),
                      lambda: cnn.conv2d_backward(dz, xs, p["conv_w"])),
    "pool forward": (lambda: reference.max_pool2d(a), lambda: cnn.max_pool2d(a)),
    "pool backward": (lambda: reference.max_pool2d_backward(dpool, a),
                      lambda: cnn.max_pool2d_backward(dpool, a)),
    "dense 288->60 forward": (lambda: reference.dense(f, p["w1"], p["b1"]),
                              lambda: cnn.dense(f, p["w1"], p["b1"])),
    "dense 288->60 backward": (lambda: reference.dense_backward(dh, f, p["w1"]),
                               lambda: cnn.dense_backward(dh, f, p["w1"])),
}
rows = []
for name, (slow, fast) in layers.items():
    rows.append((name, best(slow), best(fast, repeats=20)))
display(HTML('<table style="font-size: 0.8em"><tr><th>layer (16 images)</th><th>loops, ms</th>'
             '<th>vectorised, ms</th><th>speed-up</th></tr>' + "".join(
                 f"<tr><td>{n}</td><td>{1e3 * a:.1f}</td><td>{1e3 * b:.3f}</td>"
                 f"<td>{a / b:,.0f}x</td></tr>" for n, a, b in rows) + "</table>"))

fig, ax = plt.subplots(figsize=(8, 3.6))
pos = np.arange(len(rows))
ax.barh(pos + 0.2, [1e3 * r[1] for r in rows], height=0.4, label="loops (cnn.reference)")
ax.barh(pos - 0.2, [1e3 * r[2] for r in rows], height=0.4, label="vectorised (cnn)")
ax.set(yticks=pos, yticklabels=[r[0] for r in rows], xscale="log",
       xlabel="milliseconds for 16 images (log scale)")
ax.invert_yaxis()
ax.legend(loc="lower right")
fig.tight_layout()

# %% [markdown]
# The convolution dominates the loop version: for every image, filter and
# output pixel it slices a 5x5 window and multiplies it by the kernel, so
# the Python interpreter runs the loop body $N \cdot F \cdot 24 \cdot 24$ times
# forward and again backward; the dense layers' loops over $288 \times 60$
# weights per image come next. The vectorised version hands each layer to a
# handful of array operations whose loops run in compiled code.
#
# ## On real MNIST
#
# The recorded run of the command above, on a batch of real MNIST images:

# %%
recorded = load_record("loops_vs_vectorised.json")
print("command:", recorded["command"])
v = recorded["versions"]
print(f"run on {recorded['date']}, numpy {v['numpy']}, {recorded['data']}, "
      f"batch {recorded['batch']}, {recorded['dtype']}")
# Records before the studies left the package named only cnn/'s modified files.
modified = v.get("modified_files", v.get("cnn_modified_files", []))
print(f"code: commit {v.get('git_commit', '?')[:7]}, files of cnn/, studies/, benchmarks/ "
      f"modified since: {', '.join(modified) or 'none'}")
print(f"loops:      {recorded['loop_seconds']:.2f} s per step "
      f"({1e3 * recorded['loop_seconds_per_image']:.1f} ms per image)")
print(f"vectorised: {1e3 * recorded['vectorised_seconds']:.2f} ms per step")
print(f"speed-up:   {recorded['speedup']:.0f}x; largest gradient difference "
      f"{max(recorded['max_relative_difference'].values()):.1e}")
epoch_loops = 60000 * recorded["loop_seconds_per_image"]
epoch_vec = 60000 / recorded["batch"] * recorded["vectorised_seconds"]
print(f"\none epoch of 60000 images: loops about {epoch_loops / 60:.0f} minutes, "
      f"vectorised about {epoch_vec:.1f} s of forward and backward passes")

# %% [markdown]
# That is the first reason seed 001 stopped at 37.7%: at loop speed every
# pass over MNIST costs minutes of pure Python even with loops as tight as
# these (seed 001's, by its own account, also used "a lot of memory"), so
# the network saw few updates. The vectorised network does three epochs in
# about ten seconds; see [the MNIST page](mnist.html) for what it reaches and
# for the other reasons (initialisation, learning rate, epochs).
