# %% [markdown] tags=["en"]
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

# %% [markdown] tags=["zh"]
# # 循环与向量化 NumPy 的对比
#
# 源教程 001 训练了一个 MNIST CNN（卷积、最大池化、展平、全连接层、softmax、交叉熵），代码用“非常多（A LOT）的 for 循环”写成，文章还提醒说它“会耗时很长”。本页在同一批量上，把同一类循环代码与 `cnn` 的向量化层对比计时，并检查二者算出的数是否相同。
#
# * 循环版本：`cnn.reference`，即按教科书定义写成的各层：每个下标一层 Python 循环，一次处理一个窗口。它是慢速的参考实现，测试用它来核对快速的层。
# * 向量化版本：`cnn.MnistNet.loss_and_grads`（本库的快速算法：带状矩阵卷积、把池化放在 ReLU 之前、矩阵乘积）。
#
# 两者都以 float32 和单个 BLAS 线程，对源教程 003 的网络（卷积 (2, 1, 5, 5)、ReLU、2x2 最大池化、全连接 288 -> 60、ReLU、全连接 60 -> 10、softmax 交叉熵）做一次前向传播和反向传播。
#
# 本页在构建网站时执行，用的是放在 28x28 画布上的 scikit-learn 手写数字（无需下载）。要在真实的 MNIST 上做同样的比较，请在仓库检出目录的根目录下运行：
#
#     python -m studies.loops_vs_vectorised --data DIR --out docs/results/loops_vs_vectorised.json
#
# 构建机器上的计时有噪声；重要的是比值。

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
from docs.figures.plots import use_language_fonts  # noqa: E402
from docs.locale import Domain  # noqa: E402
from studies import loops_vs_vectorised as lv, load_record  # noqa: E402

_ = Domain("notebooks")                         # the plot's labels, in the page's language
use_language_fonts()                            # and a font for them

threadpool_limits(limits=1, user_api="blas")   # as `cnn train`: one BLAS thread

data = load_digits(canvas=True)                 # sklearn digits on a 28x28 canvas
net = cnn.MnistNet(input_shape=data.image_shape, dtype="float32", seed=0)
net.fit_input_scaling(data.X_train)
x, y = data.X_train[:16], data.y_train[:16]
print(net)
print("batch:", x.shape, x.dtype)

# %% [markdown] tags=["en"]
# ## The loop version
#
# The forward and backward pass, layer by layer: the network's one composed
# definition, `cnn.networks.composed.composed_loss_and_grads` (the tests hold
# `MnistNet` to it). Its `layers` argument says where the layer functions
# come from; the loop version passes the layers of `cnn.reference`
# (`lv.LOOP_LAYERS`):

# %% [markdown] tags=["zh"]
# ## 循环版本
#
# 逐层的前向传播和反向传播：网络唯一的组合定义 `cnn.networks.composed.composed_loss_and_grads`（测试要求 `MnistNet` 与它一致）。它的 `layers` 参数指明各层函数从哪里来；循环版本传入的是 `cnn.reference` 的层（`lv.LOOP_LAYERS`）：

# %%
print(inspect.getsource(composed_loss_and_grads).split('"""')[-1])
print(inspect.getsource(lv.loop_loss_and_grads).split('"""')[-1])

# %% [markdown] tags=["en"]
# and one of those layers, the convolution, as loops:

# %% [markdown] tags=["zh"]
# 以及其中一层——卷积——的循环写法：

# %%
print(inspect.getsource(reference.conv2d))

# %% [markdown] tags=["en"]
# ## Same numbers, and the time each takes
#
# `compare` runs both on the same 16 images, keeps the best of a few rounds
# for each, and compares the loss and every gradient.

# %% [markdown] tags=["zh"]
# ## 算出的数相同，以及各自的用时
#
# `compare` 在同样的 16 张图像上运行两个版本，各自重复几轮、取最快的一次，并比较损失和每一个梯度。

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

# %% [markdown] tags=["en"]
# The differences are float32 rounding: the two versions add the same terms in
# a different order. The same check in float64, on 4 images:

# %% [markdown] tags=["zh"]
# 这些差异来自 float32 的舍入：两个版本把相同的项按不同的顺序相加。下面在 float64 下对 4 张图像做同样的检查：

# %%
net64 = cnn.MnistNet(input_shape=data.image_shape, dtype="float64", seed=0)
net64.fit_input_scaling(data.X_train)
r64 = lv.compare(net64, x[:4], y[:4], vec_repeats=1)
print(f"float64: loss difference {r64['loss_relative_difference']:.1e}, largest gradient "
      f"difference {max(r64['max_relative_difference'].values()):.1e}")

# %% [markdown] tags=["en"]
# (`tests/test_studies.py` requires at most $10^{-10}$ in float64 and
# $10^{-4}$ in float32.)
#
# ## Where the time goes, layer by layer

# %% [markdown] tags=["zh"]
# （`tests/test_studies.py` 要求差异在 float64 下不超过 $10^{-10}$，在 float32 下不超过 $10^{-4}$。）
#
# ## 逐层看时间花在哪里

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
    _("conv forward"): (lambda: reference.conv2d(xs, p["conv_w"], p["conv_b"]),
                        lambda: cnn.conv2d(xs, p["conv_w"], p["conv_b"])),
    _("conv backward"): (lambda: reference.conv2d_backward(dz, xs, p["conv_w"]),
                         lambda: cnn.conv2d_backward(dz, xs, p["conv_w"])),
    _("pool forward"): (lambda: reference.max_pool2d(a), lambda: cnn.max_pool2d(a)),
    _("pool backward"): (lambda: reference.max_pool2d_backward(dpool, a),
                         lambda: cnn.max_pool2d_backward(dpool, a)),
    _("dense 288->60 forward"): (lambda: reference.dense(f, p["w1"], p["b1"]),
                                 lambda: cnn.dense(f, p["w1"], p["b1"])),
    _("dense 288->60 backward"): (lambda: reference.dense_backward(dh, f, p["w1"]),
                                  lambda: cnn.dense_backward(dh, f, p["w1"])),
}
rows = []
for name, (slow, fast) in layers.items():
    rows.append((name, best(slow), best(fast, repeats=20)))
columns = [_("layer (16 images)"), _("loops, ms"), _("vectorised, ms"), _("speed-up")]
display(HTML('<table style="font-size: 0.8em"><tr>' + "".join(f"<th>{c}</th>" for c in columns)
             + "</tr>" + "".join(
                 f"<tr><td>{n}</td><td>{1e3 * a:.1f}</td><td>{1e3 * b:.3f}</td>"
                 f"<td>{a / b:,.0f}x</td></tr>" for n, a, b in rows) + "</table>"))

fig, ax = plt.subplots(figsize=(8, 3.6))
pos = np.arange(len(rows))
ax.barh(pos + 0.2, [1e3 * r[1] for r in rows], height=0.4, label=_("loops (cnn.reference)"))
ax.barh(pos - 0.2, [1e3 * r[2] for r in rows], height=0.4, label=_("vectorised (cnn)"))
ax.set(yticks=pos, yticklabels=[r[0] for r in rows], xscale="log",
       xlabel=_("milliseconds for 16 images (log scale)"))
ax.invert_yaxis()
ax.legend(loc="lower right")
fig.tight_layout()

# %% [markdown] tags=["en"]
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

# %% [markdown] tags=["zh"]
# 循环版本的时间主要花在卷积上：对每张图像、每个滤波器和每个输出像素，它都要切出一个 5x5 的窗口，再与卷积核相乘，所以 Python 解释器在前向传播中要把循环体执行 $N \cdot F \cdot 24 \cdot 24$ 次，反向传播中再执行同样多次；其次是全连接层的循环，每张图像要遍历 $288 \times 60$ 个权重。向量化版本把每一层交给少数几个数组运算，这些运算的循环在编译好的代码中运行。
#
# ## 在真实的 MNIST 上
#
# 下面是上文那条命令在一批真实 MNIST 图像上运行时记录下的结果：

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

# %% [markdown] tags=["en"]
# That is the first reason seed 001 stopped at 37.7%: at loop speed every
# pass over MNIST costs minutes of pure Python even with loops as tight as
# these (seed 001's, by its own account, also used "a lot of memory"), so
# the network saw few updates. The vectorised network does three epochs in
# about ten seconds; see [the MNIST page](mnist.html) for what it reaches and
# for the other reasons (initialisation, learning rate, epochs).

# %% [markdown] tags=["zh"]
# 这是源教程 001 停留在 37.7% 的第一个原因：按循环的速度，即使循环写得像这里一样紧凑，每遍历一次 MNIST 也要花上几分钟纯 Python 的时间（而据源教程 001 自己说，它的循环还“占用大量内存”），所以网络得到的更新次数很少。向量化的网络训练三轮只需大约十秒；它能达到什么水平，以及其他原因（初始化、学习率、训练轮数），见 [MNIST 网络](mnist.html)一页。
