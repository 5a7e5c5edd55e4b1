# %% [markdown] tags=["en"]
# # Training the toy net
#
# The seed post trains its toy net with per-sample SGD: `np.random.seed(598765)`,
# kernel and dense weights drawn as `randn * 4`, learning rate 0.7, 1000 epochs,
# and reports the cost going from about 1.28 to 0.0126. This notebook reruns
# that with `cnn.toy_net`, then asks what the kernel learned (nothing), why
# (tanh saturation), and what happens with an initialisation that does not
# saturate.
#
# This page is executed when the site is built. To rerun it yourself:
# `pip install -e ".[docs]"`, then open `docs/notebooks/toy_net_training.py`
# with Jupyter (jupytext) or run it as a script.

# %% [markdown] tags=["zh"]
# # 训练玩具网络
#
# 源教程博文用逐样本的 SGD 训练它的玩具网络：`np.random.seed(598765)`，卷积核和全连接权重取 `randn * 4`，学习率 0.7，训练 1000 轮（epoch），并报告代价从约 1.28 降到 0.0126。这个笔记本用 `cnn.toy_net` 重新运行这一过程，然后追问：卷积核学到了什么（什么也没学到）？为什么（tanh 饱和）？换成一种不会饱和的初始化又会怎样？
#
# 本页在构建网站时执行。想自己重新运行：先 `pip install -e ".[docs]"`，再用 Jupyter（jupytext）打开 `docs/notebooks/toy_net_training.py`，或者把它当作脚本运行。

# %%
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Math, display

import derivations
from cnn import toy_net

# The plots' labels live in the checkout, not in the installed package:
# put the checkout on sys.path.
sys.path.insert(0, str(Path(toy_net.__file__).resolve().parents[1]))
from docs.figures.plots import use_language_fonts  # noqa: E402
from docs.locale import Domain  # noqa: E402

_ = Domain("notebooks")           # the plots' labels, in the page's language
use_language_fonts()              # and a font for them

images, labels = toy_net.seed_data()
kernel0, weights0 = toy_net.seed_init()  # seed 598765, scale 4
run = toy_net.train(images, labels, kernel0, weights0, lr=0.7, epochs=1000)
print(f"cost: first epoch {run.costs[0]:.4f}, last epoch {run.costs[-1]:.4f}")
print("outputs:", np.round(run.outputs, 4), " labels:", labels)

# %% [markdown] tags=["en"]
# The seed's outcome is reproduced: 1.2848 -> 0.0126, and outputs
# [0.5, 0.7716, 0.9825, 0.9825]. The cost is the seed's running sum over the
# four images (each image's cost from its own forward pass during the epoch).
# The label 1.1 is out of the logistic's reach, and the all-zero image always
# gives $o = \sigma(0) = 0.5$: the last two images get the same output because
# both saturate every tanh unit.

# %% [markdown] tags=["zh"]
# 源教程的结果得到了复现：代价 1.2848 -> 0.0126，输出为 [0.5, 0.7716, 0.9825, 0.9825]。这里的代价沿用源教程的算法，是一轮中四张图像代价的累加和（每张图像的代价来自这一轮中它自己的那次前向传播）。标签 1.1 是 logistic 函数达不到的值，而全零图像总是给出 $o = \sigma(0) = 0.5$；最后两张图像的输出相同，因为它们都让每个 tanh 单元饱和了。

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 3.4))
ax[0].semilogy(run.costs)
ax[0].set(xlabel=_("epoch"), ylabel=_("cost (sum over 4 images)"),
          title=_("seed initialisation (x4)"))
ax[1].bar(np.arange(4) - 0.2, labels, width=0.4, label=_("label y"))
ax[1].bar(np.arange(4) + 0.2, run.outputs, width=0.4, label=_("output o"))
ax[1].set(xticks=range(4), xticklabels=[_("zeros"), _("top row"), _("bottom rows"), _("ones")],
          title=_("after 1000 epochs"))
ax[1].legend()
fig.tight_layout()

# %% [markdown] tags=["en"]
# ## Did the kernel learn?
#
# The derivation exported a fact about the seed's initialisation (evaluated
# exactly with SymPy): the kernel gradient is negligible next to the dense
# weights' gradient on every image.

# %% [markdown] tags=["zh"]
# ## 卷积核学到东西了吗？
#
# 推导导出了一条关于源教程初始化的事实（用 SymPy 精确计算）：在每张图像上，卷积核的梯度与全连接权重的梯度相比都小到可以忽略。

# %%
fact = derivations.load("toy_net").facts["seed_data_kernel_gradient_negligible"]
print(Domain("derivations/toy_net")(fact["statement"]))   # in the page's language
for row in fact["data"]["per_image"]:
    print(f"  label {row['label']:>4}: max|dL/dk| = {row['max_abs_dL_dk']:>9}, "
          f"max|dL/dw| = {row['max_abs_dL_dw']}")

change = np.linalg.norm(run.kernel - kernel0) / np.linalg.norm(kernel0)
print(f"\nrelative change of the kernel over 1000 epochs: {change:.2e}")
print(f"relative change of the dense weights:           "
      f"{np.linalg.norm(run.weights - weights0) / np.linalg.norm(weights0):.2f}")
print("layer-1 pre-activations z1 per image:")
for x in images:
    print("  ", np.round(toy_net.forward(x, kernel0, weights0).z1.ravel(), 1))

# %% [markdown] tags=["en"]
# With weights of scale 4, every non-zero $z_1$ is between 6 and 17, where
# $1 - \tanh^2$ is between $10^{-5}$ and $10^{-14}$; where $z_1$ is zero the
# input pixels under the kernel are zero too. The kernel gradient vanishes
# either way, so only $W$ learns. The seed's kernel-gradient bug is invisible:

# %% [markdown] tags=["zh"]
# 权重的尺度为 4 时，每个非零的 $z_1$ 都在 6 到 17 之间，在这个范围内 $1 - \tanh^2$ 介于 $10^{-5}$ 和 $10^{-14}$ 之间；而在 $z_1$ 为零的地方，卷积核覆盖的输入像素也都是零。无论哪种情况，卷积核梯度都会消失，所以只有 $W$ 在学习。源教程卷积核梯度中的错误因此显现不出来：

# %%
variants = toy_net.KERNEL_GRADIENT_VARIANTS
runs = {v: toy_net.train(images, labels, kernel0, weights0, variant=v) for v in variants}
for v, r in runs.items():
    print(f"{v:>16}: final cost {r.costs[-1]:.6f}, outputs {np.round(r.outputs, 6)}")

# %% [markdown] tags=["en"]
# ## An initialisation that does not saturate
#
# Scale the same random draws by `UNSATURATED_SCALE` instead of 4. Now the
# kernel gradient is not negligible, the kernel learns, and the wrong
# kernel-gradient formulas train differently from the right one
# (`seed_rotated`, the update's code, stays identical to `correct`).

# %% [markdown] tags=["zh"]
# ## 不会饱和的初始化
#
# 把同样的随机数乘以 `UNSATURATED_SCALE`，而不是乘以 4。这时卷积核梯度不再可以忽略，卷积核开始学习，错误的卷积核梯度公式训练出的结果也与正确的公式不同（`seed_rotated`，即博文更新中的代码，仍与 `correct` 完全相同）。

# %%
k_small, w_small = toy_net.seed_init(scale=toy_net.UNSATURATED_SCALE)
small = {v: toy_net.train(images, labels, k_small, w_small, variant=v) for v in variants}
fig, ax = plt.subplots(figsize=(6, 3.4))
for v, r in small.items():
    ax.semilogy(r.costs, label=v, linestyle="--" if v == "seed_rotated" else "-")
ax.set(xlabel=_("epoch"), ylabel=_("cost (sum over 4 images)"),
       title=_("initialisation scale %(scale)s", scale=toy_net.UNSATURATED_SCALE))
ax.legend()
fig.tight_layout()
for v, r in small.items():
    moved = np.linalg.norm(r.kernel - k_small) / np.linalg.norm(k_small)
    print(f"{v:>16}: final cost {r.costs[-1]:.4f}, kernel moved by {moved:.2f} of its size")

# %% [markdown] tags=["en"]
# ## The counterexample, recomputed
#
# The export contains a point where the transposed gradient (the update's
# text) is wrong. Here are the exported exact values next to what
# `cnn.toy_net.kernel_gradient` computes at the same point.

# %% [markdown] tags=["zh"]
# ## 重新计算反例
#
# 导出文件中有一个点，在这个点上转置后的梯度（博文更新的正文给出的做法）是错的。下面把导出的精确值与 `cnn.toy_net.kernel_gradient` 在同一点上算出的结果并排列出。

# %%
from fractions import Fraction

cx = derivations.load("toy_net").facts["transposed_counterexample"]["data"]
x = np.array(cx["image"], float)
k = np.array([[float(Fraction(v)) for v in row] for row in cx["kernel"]])
w = np.array([float(Fraction(v)) for v in cx["weights"]])[:, None]
delta = toy_net.layer1_deltas(x, float(Fraction(cx["label"])), k, w)
for ours, exported in [("correct", "true_gradient"), ("seed_original", "seed_original"),
                       ("seed_transposed", "seed_transposed"), ("seed_rotated", "seed_rotated")]:
    g = toy_net.kernel_gradient(toy_net.pad(x, 0), delta, variant=ours)
    print(f"{ours:>16}: numpy {np.round(g, 6).tolist()}   export {cx[exported]}")

# %% [markdown] tags=["en"]
# And the formula the correct variant implements, straight from the export:

# %% [markdown] tags=["zh"]
# 最后是正确的变体所实现的公式，直接取自导出文件：

# %%
f = derivations.load("toy_net").formula("valid_3x3_k2", "chain:dL/dk[0,1]")
display(Math(f.equation))
