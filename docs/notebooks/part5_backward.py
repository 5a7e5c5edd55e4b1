# %% [markdown] tags=["en"]
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

# %% [markdown] tags=["zh"]
# # 第五部分：完整的反向传播（源教程 003）
#
# <div class="admonition abstract">
# <p class="admonition-title">本页假定你已知道什么、会教你什么</p>
# <p><b>你需要：</b>链式法则、NumPy 数组（形状、广播、<code>reshape</code>），以及卷积、ReLU 和 2x2 最大池化在前向传播中各计算什么。</p>
# <p><b>你将学到：</b>损失的梯度如何反向穿过源教程 003 网络的每一层（一次只看一个小数组）：softmax 与交叉熵、两个全连接层、展平（flatten）、最大池化（梯度流向每个窗口的最大值）、ReLU，以及卷积（卷积核的梯度是输入与上游梯度的互相关）；如何用大约 40 行 NumPy 写出这一切；以及如何用中心有限差分核对每一个梯度。</p>
# </div>
#
# 本页接续 Pradeep Adhokshaja 于 2021 年 6 月 20 日发表在 Medium 的 *Analytics Vidhya* 上的 **"Simple CNN using NumPy Part IV (Back Propagation Through Fully Connected Layers)"**（用 NumPy 实现简单 CNN 第四部分：全连接层的反向传播；源教程 003）。第四部分止步于损失对展平后的池化输出的梯度，并预告下一篇讲 "Back propagation through max pooling filters, convolutional output layer & the convolutional filters"（穿过最大池化、卷积输出层和卷积滤波器的反向传播），而那一篇不在源教程之列。这里补上的就是那一部分：同一个网络，只是把尺寸缩小到每个数都能在屏幕上显示出来。每一步背后的推导都在各层的页面上：[全连接层、softmax 与交叉熵](../layers/dense_softmax.html)、[激活函数](../layers/activations.html)、[最大池化](../layers/max_pool.html)和[多通道卷积](../layers/conv2d.html)。
#
# 下面的每个数都是在构建网站时算出来的；页面中的检查（`assert`）只要有一项不通过，构建就会停止。想把它带走，可以取笔记本的源文件 [`part5_backward.py`](part5_backward.py)（jupytext percent 格式），或者标题下方下载链接中的 `.ipynb`。

# %% tags=["hide_input"]
# This page's layout: on narrow screens no "In [n]:" prompts, so that the
# printed arrays get the column's whole width; wide formulas scroll.
from IPython.display import HTML, display

display(HTML("<style>@media (max-width: 600px) { .jupyter-wrapper "
             ".jp-InputPrompt, .jupyter-wrapper .jp-OutputPrompt "
             "{ display: none !important; } } .jupyter-wrapper "
             ".jp-RenderedLatex { overflow-x: auto; }</style>"))

# %% [markdown] tags=["en"]
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

# %% [markdown] tags=["zh"]
# ## 缩小的网络
#
# 源教程 003 的网络，只是每个尺寸都缩小了：一张 6x6 图像代替 N 张 28x28 图像，两个 3x3 卷积核代替两个 5x5 卷积核，隐藏层 4 个单元代替 60 个，3 个类别代替 10 个。运算完全相同。
#
# | 数组 | 这里的形状（源教程 003） |
# |---|---|
# | `x` = 输入 | 1,1,6,6 (N,1,28,28) |
# | `z` = 卷积 | 1,2,4,4 (N,2,24,24) |
# | `a` = ReLU | 1,2,4,4 (N,2,24,24) |
# | `m` = 最大池化 | 1,2,2,2 (N,2,12,12) |
# | `f` = 展平 | 1,8 (288,N) |
# | `z1` = 全连接 | 1,4 (60,N) |
# | `h` = ReLU | 1,4 (60,N) |
# | `s` = 全连接 | 1,3 (10,N) |
# | `p` = softmax | 1,3 (10,N) |
#
# 卷积层的卷积核 `conv_w` 形状为 (2, 1, 3, 3)（2 个输出通道、1 个输入通道），偏置为 `conv_b`；最大池化取 2x2 的窗口、步幅为 2，所以窗口互不重叠；两个全连接层的权重为 `w1`、`w2`，偏置为 `b1`、`b2`。`s` 是 logits；损失是 `p` 与标签 `t` 的交叉熵。
#
# **布局。** 本库每个样本占一*行*（图像为 NCHW，全连接层为 `(N, features)`，`z1 = f @ w1 + b1`），而源教程 003 每个样本占一*列*（`(features, N)`，`W1 @ X + B0`），所以该源教程的每个矩阵都是我们相应矩阵的转置。名称不同的地方如下：
#
# | 这里 | 源教程 003 |
# |---|---|
# | `f` (1, 8) | `X_maxpool_flatten` (288, N) |
# | `w1` (8, 4) | `W1` (60, 288) |
# | `b1` (4,) | `B0` (60, 1) |
# | `h` (1, 4) | `fc1` (60, N) |
# | `w2` (4, 3) | `W2` (10, 60) |
# | `b2` (3,) | `B1` (10, 1) |
# | `p`、独热的 `y` | `final_fc`、`y_batch` |
# | `s`、`z1`、`f` 处的梯度 | `delta_2`、`delta_1`、`delta_0` |
#
# **批量。** 本库的损失是对批量的*平均*，所以每个梯度都带有因子 1/N；源教程 003 的公式没有这个因子（它们是*总和*的梯度；见[约定](../conventions.html#sum-or-mean-over-the-batch)）。这里的批量只有一张图像，两者相同；N > 1 时有什么变化，见本页末尾。
#
# 这里的**卷积**与 PyTorch 中一样，其实是互相关：卷积核不翻转（[为什么这一点重要](../conventions.html#convolution-and-cross-correlation)）。

# %% [markdown] tags=["en"]
# ## The numbers
#
# Small integers for the image, one-decimal values for the weights, drawn
# with a fixed seed (93, chosen so that the example has no kink, see below).
# Each array is printed after its name and shape; the printout leaves out
# the axes of length 1 (the batch of one image, its single channel).

# %% [markdown] tags=["zh"]
# ## 具体数值
#
# 图像用小整数，权重用一位小数，都用固定的随机种子抽取（93，选它是为了让这个例子不碰到不可导点，见下文）。每个数组都先打印名称和形状，再打印数值；打印时略去长度为 1 的轴（只有一张图像的批量、它唯一的通道）。

# %%
import sys
from pathlib import Path

import numpy as np
from IPython.display import Math

import cnn
import derivations

# The translations live in the checkout, not in the installed package:
# put the checkout on sys.path.
sys.path.insert(0, str(Path(cnn.__file__).resolve().parents[1]))
from docs.locale import Domain  # noqa: E402

_ = Domain("notebooks")           # the answers' text, in the page's language


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

# %% [markdown] tags=["en"]
# ## Forward pass
#
# The library's layer functions, one per line. `forward` keeps every
# intermediate array, because the backward functions take the forward values
# they need explicitly.

# %% [markdown] tags=["zh"]
# ## 前向传播
#
# 本库的各层函数，每行一个。`forward` 保留所有中间数组，因为反向函数要显式地接收它们所需的前向值。

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

# %% [markdown] tags=["en"]
# Each entry of `z` is one 3x3 window of `x` times a kernel, summed, plus the
# bias: for example `z[0, 0, 0, 0]` is the top-left 3x3 block of `x` times
# kernel 0. The pool then keeps the largest entry of each 2x2 block of `a`:

# %% [markdown] tags=["zh"]
# `z` 的每个元素都是 `x` 的一个 3x3 窗口与一个卷积核逐元素相乘、求和，再加上偏置：例如 `z[0, 0, 0, 0]` 就是 `x` 左上角的 3x3 块乘以卷积核 0。接着，池化保留 `a` 的每个 2x2 块中最大的元素：

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

# %% [markdown] tags=["en"]
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

# %% [markdown] tags=["zh"]
# ### 这个例子没有不可导点
#
# ReLU 在 0 处有一个折点，最大池化在窗口中有两个元素相等的地方也有一个：在那里损失不可导，本库取两个单侧斜率中的一个（[约定：不可导点](../conventions.html#kinks-relu-at-0-and-ties-in-max-pooling)），而中心有限差分取的是两侧斜率的平均，会与它不一致。随机种子 93 给出的例子离每个折点都很远：所有 ReLU 输入与 0 的距离都大于 0.05；每个池化窗口都有唯一的、正的最大值，并且比第二大的元素至少大 0.05。下面中心有限差分的步长是 1e-6，远小于这些余量。

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

# %% [markdown] tags=["en"]
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

# %% [markdown] tags=["zh"]
# ## 逐层反向传播
#
# 从损失一直回到卷积核。每一步都是调用一次本库中该层的反向函数；它接收从上面传来的梯度（*上游*梯度）和它所需的前向值。每个梯度的形状都与它所对应的数组相同。
#
# ### softmax 与交叉熵
#
# 对 logits 的梯度是 `(p - y) / N`，其中 `y` 是独热标签（导出的公式在本页末尾）。N = 1 时就是 `p - y`。`cnn.softmax_cross_entropy` 在返回损失的同时也返回了它。

# %%
y = np.eye(3)[t]
ds = v["ds"]
show("y (one-hot)", y)
show("ds = p - y", ds)
assert np.allclose(ds, p - y)

# %% [markdown] tags=["en"]
# ### Dense 2
#
# The layer `s = h @ w2 + b2`. `cnn.dense_backward(dy, x, w)` returns the
# gradients with respect to the layer's input, its weights and its bias:
# `dy @ w.T`, `x.T @ dy` and the sum of `dy` over the batch. Row 1 of
# `dL/dw2` is 0: hidden unit 1 output `h = 0`, so its weights did not
# matter.

# %% [markdown] tags=["zh"]
# ### 全连接层 2
#
# 这一层是 `s = h @ w2 + b2`。`cnn.dense_backward(dy, x, w)` 返回对该层输入、权重和偏置的梯度：`dy @ w.T`、`x.T @ dy`，以及 `dy` 在批量上的和。`dL/dw2` 的第 1 行为 0：隐藏单元 1 的输出是 `h = 0`，所以它的权重不起作用。

# %%
dh, g_w2, g_b2 = cnn.dense_backward(ds, h, w2)
show("dL/dw2 = h.T @ ds", g_w2)
show("dL/db2", g_b2)
show("dh = ds @ w2.T", dh)

# %% [markdown] tags=["en"]
# ### ReLU, then dense 1
#
# ReLU passes the gradient where its input was positive and blocks it where
# it was negative: hidden unit 1 had `z1 < 0`, so it gets nothing, and
# neither does its column of `w1` nor its bias.

# %% [markdown] tags=["zh"]
# ### ReLU，然后是全连接层 1
#
# ReLU 在输入为正的地方让梯度通过，在输入为负的地方把它挡住：隐藏单元 1 的 `z1 < 0`，所以它什么也得不到，`w1` 中它的那一列和它的偏置也一样。

# %%
dz1 = cnn.relu.backward(dh, z1)
df, g_w1, g_b1 = cnn.dense_backward(dz1, f, w1)
show("dz1 = dh * (z1 > 0)", dz1)
show("dL/dw1 = f.T @ dz1", g_w1)
show("dL/db1", g_b1)
show("df = dz1 @ w1.T", df)

# %% [markdown] tags=["en"]
# ### Where Part IV stopped
#
# Seed 003's own lines for this part, run on the same numbers in its column
# layout, give the transposes of the arrays above (times N, which is 1 here).
# Its last line, `delta_0`, is the gradient with respect to the flattened
# pool output: the start of Part V.

# %% [markdown] tags=["zh"]
# ### 第四部分停在哪里
#
# 把源教程 003 自己为这一部分写的代码，按它的列布局在同样的数值上运行，得到的是上面各数组的转置（再乘以 N，这里 N 为 1）。它的最后一行 `delta_0` 是对展平后的池化输出的梯度：第五部分从这里开始。

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

# %% [markdown] tags=["en"]
# ### Un-flatten
#
# The flatten only rearranged numbers, so its backward pass rearranges them
# back: `df` reshaped to the pool output's shape (1, 2, 2, 2).

# %% [markdown] tags=["zh"]
# ### 还原展平
#
# 展平只是重新排列了这些数，所以它的反向传播把它们排回原样：把 `df` 重塑为池化输出的形状 (1, 2, 2, 2)。

# %%
dm = df.reshape(m.shape)
show("dm = df.reshape(m.shape)", dm)

# %% [markdown] tags=["en"]
# ### Max pooling
#
# Each pool output is one entry of its 2x2 window, the maximum; the other
# three entries did not influence the loss at all. So the whole gradient of
# a window goes to the entry that won, and the three others get 0. The mask
# marks the winners (1) of each window; `da` is `dm` placed at the winners.

# %% [markdown] tags=["zh"]
# ### 最大池化
#
# 每个池化输出都是它那个 2x2 窗口中的一个元素，即最大值；其余三个元素对损失毫无影响。所以一个窗口的全部梯度都交给胜出的那个元素，另外三个得到 0。掩码标出了每个窗口的胜出者（1）；`da` 就是把 `dm` 放到胜出者的位置上。

# %%
da = cnn.max_pool2d_backward(dm, a, size=2, stride=2)
m_up = np.repeat(np.repeat(m, 2, axis=2), 2, axis=3)  # m, per entry
winner = (a == m_up).astype(int)
show("winner mask", winner)
show("da = max_pool2d_backward(dm, a)", da)
assert winner.sum() == m.size and np.array_equal(da != 0, winner == 1)

# %% [markdown] tags=["en"]
# ### ReLU
#
# Here ReLU changes nothing: only the pool's winners carry a gradient, and
# each winner is positive (asserted above), where ReLU passes the gradient
# unchanged. With ReLU before the pool this step can only matter in a window
# whose four entries are all negative, so that its maximum is a four-way tie
# at 0, the kind of kink this example avoids (and then no gradient passes
# either way).

# %% [markdown] tags=["zh"]
# ### ReLU
#
# 在这里 ReLU 什么也没有改变：只有池化的胜出者带有梯度，而每个胜出者都是正的（上面已经断言过），在正值处 ReLU 让梯度原样通过。ReLU 放在池化之前时，这一步只可能在这样的窗口里起作用：窗口的四个元素都是负的，于是它的最大值是四个元素在 0 处并列，这正是本例所避开的那种不可导点（而且这时无论怎样都没有梯度通过）。

# %%
dz = cnn.relu.backward(da, z)
show("dz = da * (z > 0)", dz)

# %% [markdown] tags=["en"]
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

# %% [markdown] tags=["zh"]
# ### 卷积
#
# 在前向传播中，输出 `z[0, f, r, c]` 中含有卷积核权重 `conv_w[f, 0, i, j]` 与像素 `x[0, 0, r + i, c + j]` 的乘积。所以在通道 `f` 的 16 个输出上，这个权重遇到的是 `x` 中从 `(i, j)` 开始的 4x4 块，它的梯度就是这个块乘以 `dz[0, f]` 再求和。对所有 `(i, j)` 合起来看，这就是**输入与上游梯度 `dz` 的互相关**：让 4x4 的 `dz` 在 6x6 的 `x` 上滑动，得到一个 3x3 的结果，正是卷积核的形状。偏置的梯度是每个通道上 `dz` 的和。`cnn.conv2d_backward` 返回这两者，还有对 `x` 的梯度；第一层用不到后者（第二个卷积层就要用到：见[卷积页面](../layers/conv2d.html#the-gradients-are-convolutions-too)）。

# %%
dx, g_conv_w, g_conv_b = cnn.conv2d_backward(dz, x, conv_w)
show("dL/dconv_w", g_conv_w)
show("dL/dconv_b", g_conv_b)
lib = {"conv_w": g_conv_w, "conv_b": g_conv_b,
       "w1": g_w1, "b1": g_b1, "w2": g_w2, "b2": g_b2}

# %% [markdown] tags=["en"]
# One weight by hand, `conv_w[0, 0, 0, 0]`: the top-left 4x4 block of `x`
# times `dz[0, 0]`. Only the pool's winners have a non-zero `dz`, so four
# products remain:

# %% [markdown] tags=["zh"]
# 手算一个权重 `conv_w[0, 0, 0, 0]`：`x` 左上角的 4x4 块乘以 `dz[0, 0]`。只有池化的胜出者处 `dz` 不为零，所以只剩下四个乘积：

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

# %% [markdown] tags=["en"]
# ## The same backward pass in plain NumPy
#
# The cell below is the whole network, forward and backward, in NumPy only:
# copy it into a file and it runs (it needs nothing from this project). It
# takes a batch, averages the loss over it like the library, and handles any
# image size whose conv output is even. Its pooling step assumes no ties
# (a tie would send the gradient to every tied entry).

# %% [markdown] tags=["zh"]
# ## 用纯 NumPy 写出同样的反向传播
#
# 下面这个单元格就是整个网络的前向和反向计算，只用 NumPy：把它复制到一个文件里就能运行（它不依赖本项目的任何东西）。它接收一个批量，像本库一样对批量求损失的平均，并且能处理卷积输出尺寸为偶数的任意图像尺寸。它的池化步骤假定没有并列（出现并列时，梯度会交给每一个并列的元素）。

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

# %% [markdown] tags=["en"]
# It agrees with the library's layers above, and with `cnn.MnistNet`, the
# network class the training uses (seed 003's network with its sizes as
# arguments; it computes the same gradients along a faster, fused path):

# %% [markdown] tags=["zh"]
# 它与上面本库各层的结果一致，也与训练所用的网络类 `cnn.MnistNet` 一致（即源教程 003 的网络，各尺寸作为参数传入；它沿一条更快的融合路径计算同样的梯度）：

# %%
loss_by_hand, by_hand = loss_and_grads(x, t, P)
net = cnn.MnistNet(input_shape=(6, 6), n_filters=2, kernel_size=3,
                   hidden=4, n_classes=3, dtype="float64")
net.set_params(P)
loss_net, by_net, logits_net = net.loss_and_grads(x, t)
print("largest |difference|\nfrom the library's layers")
print(f"{'':7}{'by hand':>9}{'MnistNet':>10}")
for name in lib:
    d_hand = np.abs(by_hand[name] - lib[name]).max()
    d_net = np.abs(by_net[name] - lib[name]).max()
    print(f"{name:7}{d_hand:9.0e}{d_net:10.0e}")
    assert d_hand < 1e-12 and d_net < 1e-12, name
for other in (loss_by_hand, loss_net):
    assert abs(other - v["loss"]) < 1e-12

# %% [markdown] tags=["en"]
# ## Central differences: every gradient checked
#
# A gradient says how much the loss changes when one parameter moves. So
# move it: for every entry of every parameter, evaluate the loss (the
# forward pass only) at the entry plus and minus a small step
# h = 1e-6, and divide the difference by 2h. Next to the gradients from the
# backward pass, the relative error per parameter array
# (norm of the difference over the sum of the norms) is below 1e-6; the
# cell stops the build if it is not.

# %% [markdown] tags=["zh"]
# ## 中心有限差分：核对每一个梯度
#
# 梯度表示一个参数移动时损失变化多少。那就真的移动它：对每个参数的每个元素，在该元素加上和减去一个小步长 h = 1e-6 处各计算一次损失（只需前向传播），再把两者之差除以 2h。与反向传播得到的梯度放在一起比较，每个参数数组的相对误差（差的范数除以两者范数之和）都低于 1e-6；如果不是这样，这个单元格就会让构建停止。

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

# %% [markdown] tags=["en"]
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

# %% [markdown] tags=["zh"]
# ## 每一步从何而来
#
# 上面用到的每个反向函数都实现了一个公式：它由 SymPy 推导得出，并由 pytest 与代码对应起来；逐元素的、适用于任意尺寸的推导都在各层的页面上。下面直接从导出文件中取出其中四个。式中 $G$ 是上游梯度（从上面传来的量：本页中的 `ds`、`dh`、`dm`、`dz`），$x$ 和 $w$ 是该层自己的输入和权重。
#
# - softmax 与交叉熵，反向传播的起点（下标形式，对任意 N 和 K；[该页面](../layers/dense_softmax.html#softmax-and-cross-entropy)）：

# %%
ds_export = derivations.load("dense_softmax")
display(Math(ds_export.formula("index_form", "dL/dz[m,i]").equation))
print(ds_export.facts["softmax_ce_gradient_index_form"]["statement"])

# %% [markdown] tags=["en"]
# - a dense layer's weights, `x.T @ dy` ([the page](../layers/dense_softmax.html#the-dense-layer)):

# %% [markdown] tags=["zh"]
# - 全连接层的权重，`x.T @ dy`（[该页面](../layers/dense_softmax.html#the-dense-layer)）：

# %%
display(Math(ds_export.formula("index_form", "dL/dw[a,c]").equation))

# %% [markdown] tags=["en"]
# - max pooling: each entry receives the gradient of the windows whose
#   maximum it is ([the page](../layers/max_pool.html#where-the-gradient-goes)):

# %% [markdown] tags=["zh"]
# - 最大池化：每个元素收到以它为最大值的那些窗口的梯度（[该页面](../layers/max_pool.html#where-the-gradient-goes)）：

# %%
pool_facts = derivations.load("max_pool").facts
display(Math(pool_facts["routing_is_derivative_of_max"]["latex"]))

# %% [markdown] tags=["en"]
# - the convolution's kernels: the correlation (corr) of the input with the
#   upstream gradient, and the bias: the sum of the upstream gradient. Here
#   $x^p$ is the input with its zero padding (none on this page) and
#   $\operatorname{dil}_s$ spreads $G$ out for a stride $s$ (nothing to do
#   at stride 1;
#   [the page](../layers/conv2d.html#the-gradients-are-convolutions-too)):

# %% [markdown] tags=["zh"]
# - 卷积层的卷积核：输入与上游梯度的互相关（corr）；偏置：上游梯度之和。这里 $x^p$ 是补零填充后的输入（本页没有填充），$\operatorname{dil}_s$ 按步幅 $s$ 把 $G$ 膨胀开（步幅为 1 时无需任何操作；[该页面](../layers/conv2d.html#the-gradients-are-convolutions-too)）：

# %%
conv_facts = derivations.load("conv2d").facts
for fact_name in ("dw_is_correlation_of_input_with_upstream",
                  "db_is_sum_of_upstream"):
    display(Math(conv_facts[fact_name]["latex"]))

# %% [markdown] tags=["en"]
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

# %% [markdown] tags=["zh"]
# ## N > 1 的批量
#
# 除了批量轴之外，各步骤中的形状都不变。数值上有两处变化：logits 处的梯度要除以 N（损失是平均值），并且每个参数的梯度都对批量求和（全连接层中的 `x.T @ dy` 对各行求和；卷积核的梯度把每张图像与它自己的 `dz` 的互相关加起来）。源教程 003 的公式没有 1/N，它们是各损失*总和*的梯度：是我们的 N 倍。两者对各自的损失都是正确的；把为其中一个调好的学习率用在另一个上，每一步的步长就会相差 N 倍。练习 3 会测量这一点。

# %% [markdown] tags=["en"]
# ## Exercises
#
# Each answer is folded: open it after trying. It is computed by the
# notebook, so it cannot be out of date.
#
# **1. Predict two gradients.** Keep the image and the weights, but let the
# label be class 0 instead of 2. The forward pass does not change (`p` is
# above). What are `dL/db2` and `dL/db1` now? Work it out from the arrays
# printed above before opening the answer.

# %% [markdown] tags=["zh"]
# ## 练习
#
# 每道题的答案都折叠起来了：先自己试一试，再展开。答案由笔记本计算得出，所以不会过时。
#
# **1. 预测两个梯度。** 图像和权重保持不变，但把标签从类别 2 改为类别 0。前向传播不变（`p` 见上文）。现在 `dL/db2` 和 `dL/db1` 是多少？先根据上面打印出的数组自己算出来，再展开答案。

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
    display(HTML(f'<details class="success"><summary>{_("Answer")}</summary>'
                 + "".join(html) + "</details>"))


v0 = forward(x, np.array([0]), P)
dh0, g_w2_0, g_b2_0 = cnn.dense_backward(v0["ds"], h, w2)
df0, g_w1_0, g_b1_0 = cnn.dense_backward(cnn.relu.backward(dh0, z1), f, w1)
assert np.allclose(g_b2_0, p[0] - np.eye(3)[0])
answer(_("<code>dL/db2</code> is the gradient at the logits, <code>p - y</code>, now with <code>y = [1, 0, 0]</code>: <code>p</code> with 1 taken off its first entry. <code>dL/db1</code> is that times <code>w2.T</code>, with the entry of hidden unit 1 set to 0 (its <code>z1</code> is negative). Computed by the library:"),
       ("dL/db2", g_b2_0), ("dL/db1", g_b1_0))

# %% [markdown] tags=["en"]
# **2. Find the bug.** This max-pool backward pass, written with loops, looks
# plausible and gives the right result on some windows. Which windows does
# it get wrong, and why?

# %% [markdown] tags=["zh"]
# **2. 找出错误。** 下面这个用循环写的最大池化反向传播看上去说得通，而且在一些窗口上结果是对的。它在哪些窗口上出错，为什么？

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
dx_buggy, g_conv_w_buggy, g_conv_b_buggy = cnn.conv2d_backward(cnn.relu.backward(da_buggy, z), x, conv_w)
err_buggy = (np.linalg.norm(g_conv_w_buggy - numeric["conv_w"])
             / (np.linalg.norm(g_conv_w_buggy) + np.linalg.norm(numeric["conv_w"])))
assert wrong.any() and not wrong.all() and err_buggy > 1e-2
answer(_("<code>divmod(k, 2)</code> returns <code>(row, column)</code>, not <code>(column, row)</code>: the names are swapped, so the gradient lands on the winner's mirror image across the window's diagonal. Windows whose maximum is on the diagonal (top-left or bottom-right) come out right; the others send their gradient to an entry that was not the maximum. Wrong windows (1) on this example, per channel:"),
       (_("wrong windows"), wrong[0].astype(int)),
       (_("da from the buggy snippet"), da_buggy),
       _("Carried on through ReLU and the convolution, the kernel gradient has a relative error of %(err)s against the central differences (the correct one: %(correct)s). The fix: <code>row, col = divmod(k, 2)</code>, or <code>np.unravel_index(k, (2, 2))</code>.",
         err=f"{err_buggy:.2f}", correct=f"{errors['conv_w']:.0e}"))

# %% [markdown] tags=["en"]
# **3. Sum or mean?** A batch of two images: this one and its mirror
# image, labelled 2 and 0. The snippet computes the last layer's gradients
# as seed 003 does (`delta_2 = final_fc - y_batch`, in our layout). By what
# factor do its results differ from the library's, and for which loss are
# they the right gradients?

# %% [markdown] tags=["zh"]
# **3. 求和还是求平均？** 一个包含两张图像的批量：这一张和它的镜像，标签分别为 2 和 0。下面的代码片段按源教程 003 的方式计算最后一层的梯度（`delta_2 = final_fc - y_batch`，用我们的布局）。它的结果与本库的结果相差多少倍？它们对哪一个损失才是正确的梯度？

# %%
xb = np.concatenate([x, x[:, :, :, ::-1]])   # (2, 1, 6, 6)
tb = np.array([2, 0])


def dense2_gradients_seed003(p, y, h):
    delta_2 = p - y                   # seed 003: no division by N
    return h.T @ delta_2, delta_2.sum(axis=0)         # dW2.T, dB1.T

# %% tags=["hide_input"]
loss_mean, grads_mean = loss_and_grads(xb, tb, P)
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
answer(_("Every gradient is exactly N = %(n)s times the library's: the ratios of <code>dL/dw2</code> and <code>dL/db2</code> entry by entry are all %(low)s to %(high)s, and the factor would travel unchanged down to the kernels (each later step is linear in it). Without the 1/N these are the gradients of the <b>sum</b> of the two images' losses, and right for it: against central differences of the summed loss their relative error is %(err)s. Neither is a bug alone; the bug is mixing them, e.g. tuning a learning rate with one and training with the other, which scales every step by the batch size.",
         n=len(xb), low=f"{ratio_values.min():.6f}", high=f"{ratio_values.max():.6f}",
         err=f"{err_sum:.0e}"),
       (_("dL/db2, library (mean)"), grads_mean["b2"]),
       (_("dL/db2, seed 003 (sum)"), g_b2_sum))
