# %% [markdown] tags=["en"]
# # The digits 0/1 CNN and the "broken back-prop" study
#
# Seed 000 builds a two-layer, multi-channel CNN for scikit-learn's 8x8
# digits, 0 against 1, trains it with momentum, and then deliberately
# breaks its back-propagation (the derivative after max pooling transposed
# or rotated; the pooling mask rotated). The broken nets still reached 100%
# test accuracy in the three runs it shows, which it found fascinating. This
# page trains the network (`cnn.Digits01Net`), then repeats the broken
# experiment over many seeds, and says what the evidence shows.
#
# Reproduce:
#
# * the live training: `cnn train digits01` (default split) and
#   `cnn train digits01 --split seed` (the seed's split);
# * the study, from the root of the checkout:
#   `python -m studies.broken_backprop --seeds 20 --jobs 2 --out docs/results/broken_backprop.json --quiet`
#   (the page reads that file; each of its runs is
#   `cnn train digits01 --backprop VARIANT --dense-sizes H1,H2 --seed SEED`).

# %% [markdown] tags=["zh"]
# # 识别数字 0/1 的 CNN 与“错误反向传播”研究
#
# 源教程 000 为 scikit-learn 的 8x8 手写数字数据集搭建了一个两层、多通道的 CNN，区分 0 和 1，用动量训练它，然后故意破坏它的反向传播（把最大池化之后的导数转置或旋转；把池化掩码旋转）。在文章展示的三次运行中，被破坏的网络仍然达到了 100% 的测试准确率，作者觉得这一点很奇妙。本页训练这个网络（`cnn.Digits01Net`），然后用许多个随机种子重复这个破坏实验，并说明证据表明了什么。
#
# 复现方法：
#
# * 现场训练：`cnn train digits01`（默认划分）和 `cnn train digits01 --split seed`（源教程的划分）；
# * 这项研究：在仓库检出目录的根目录下运行 `python -m studies.broken_backprop --seeds 20 --jobs 2 --out docs/results/broken_backprop.json --quiet`（本页读取这个文件；其中的每次运行都是 `cnn train digits01 --backprop VARIANT --dense-sizes H1,H2 --seed SEED`）。

# %%
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, Math, display

import cnn
import derivations

# The studies, their records and the figures live in the checkout, not in
# the installed package: put the checkout on sys.path.
sys.path.insert(0, str(Path(cnn.__file__).resolve().parents[1]))
from docs.figures.plots import use_language_fonts  # noqa: E402
from docs.locale import Domain  # noqa: E402
from studies import broken_backprop as bb, load_record  # noqa: E402

_ = Domain("notebooks")           # the plots' labels, in the page's language
use_language_fonts()              # and a font for them

settings = bb.cli_defaults()      # the `cnn train digits01` defaults
print(settings)

# %% [markdown] tags=["en"]
# ## The network
#
# Two 3x3 kernels with zero padding 1, the seed's per-channel activations
# (ReLU, arctan), 2x2 max pool; four 3x3 kernels, each summing over both
# input maps (a standard multi-channel convolution), activations arctan,
# ReLU, arctan, tanh, 2x2 max pool; flatten to 16; dense layers with
# arctan, tanh and a logistic output; the L2 cost
# $L = \frac1N\sum_n \tfrac12 (o_n - y_n)^2$. Shapes for a batch of 5 images:

# %% [markdown] tags=["zh"]
# ## 网络结构
#
# 两个 3x3 卷积核，零填充 1 圈，按源教程的做法每个通道用不同的激活函数（ReLU、arctan），2x2 最大池化；四个 3x3 卷积核，每个都对两张输入特征图求和（标准的多通道卷积），激活函数依次为 arctan、ReLU、arctan、tanh，2x2 最大池化；展平为 16 个数；全连接层使用 arctan 和 tanh，输出用 logistic；代价为 L2 代价 $L = \frac1N\sum_n \tfrac12 (o_n - y_n)^2$。批量为 5 张图像时各数组的形状：

# %%
net = cnn.Digits01Net()
o, cache = net.forward(np.zeros((5, 1, 8, 8)))
for name in ("x", "z1", "p1", "z2", "p2", "f", "a3", "a4", "z5"):
    print(f"{name:>3}: {cache[name].shape}")
print({k: v.shape for k, v in net.params.items()}, f"- {net.n_params()} parameters")

# %% [markdown] tags=["en"]
# The same network as a picture. Read it from the top: each arrow is one
# operation, each box the array it produces, with its shape (N is the number
# of images in the batch). The shapes are read from a forward pass, like the
# printout above; the picture comes from `docs/figures/networks.py`.

# %% [markdown] tags=["zh"]
# 下面用一张图表示同一个网络。从上往下读：每个箭头是一步运算，每个方框是它产生的数组，并标有形状（N 是批量中图像的张数）。这些形状和上面打印的一样，读自一次前向传播；图由 `docs/figures/networks.py` 生成。

# %%
from docs.figures import FIGURES  # noqa: E402

figure = FIGURES["arch_digits01"]()
HTML(f'<figure class="cnn-figure">{figure.svg}<figcaption>{figure.caption}</figcaption>'
     '</figure>')

# %% [markdown] tags=["en"]
# ## Training, live, on both splits
#
# The default split holds out a stratified 25% of the 360 images of 0s and
# 1s (90 test images). The seed's split shuffles and keeps only the first 10
# images for testing: a test set on which one error costs 10 points.

# %% [markdown] tags=["zh"]
# ## 现场训练，两种划分
#
# 默认划分从 360 张 0 和 1 的图像中分层抽取 25% 留作测试（90 张测试图像）。源教程的划分先打乱顺序，只留前 10 张图像做测试：在这样的测试集上，错一张就要少 10 个百分点。

# %%
def train_digits01(split, **overrides):
    data = cnn.load_digits01(split, test_size=settings["test_size"], seed=settings["split_seed"])
    n = cnn.Digits01Net(dtype=settings["dtype"], seed=settings["seed"], **overrides)
    n.fit_input_scaling(data.X_train)
    w0 = {k: n.params[k].copy() for k in ("w1", "w2")}
    h = cnn.train(n, data.X_train, data.y_train, epochs=settings["epochs"],
                  batch_size=settings["batch_size"], lr=settings["lr"],
                  momentum=settings["momentum"], schedule=settings["schedule"],
                  warmup_steps=settings["warmup"], seed=settings["seed"],
                  X_test=data.X_test, y_test=data.y_test)
    return n, data, h, w0


runs = {split: train_digits01(split) for split in ("stratified", "seed")}
for split, (n, data, h, w0) in runs.items():
    m = n.evaluate(data.X_test, data.y_test)
    print(f"{split:>10} split: test accuracy {100 * m['accuracy']:.2f}% "
          f"({round((1 - m['accuracy']) * len(data.y_test))} of {len(data.y_test)} wrong), "
          f"final training cost {n.evaluate(data.X_train, data.y_train)['loss']:.2e}, "
          f"{h.seconds:.1f} s")

# %% [markdown] tags=["en"]
# Both reach what we ask of this network: at least 99% on the held-out 90
# images, and at least the seed's "every image on test set except for one" on its own split.

# %% [markdown] tags=["zh"]
# 两种划分都达到了我们对这个网络的要求：在留出的 90 张图像上至少 99%；在源教程自己的划分上，至少做到源教程所说的“测试集中除一张外的所有图像都分类正确”。

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 3.4))
for split, (n, data, h, w0) in runs.items():
    ep = [e["epoch"] for e in h.epochs]
    ax[0].semilogy(ep, [e["train_loss"] for e in h.epochs],
                   label=_("%(split)s: train", split=split))
    ax[0].semilogy(ep, [e["test_loss"] for e in h.epochs], "--",
                   label=_("%(split)s: test", split=split))
    ax[1].plot(ep, [100 * e["test_accuracy"] for e in h.epochs], label=split)
ax[0].set(xlabel=_("epoch"), ylabel=_("L2 cost"), title=_("cost"))
ax[0].legend(fontsize=8)
ax[1].set(xlabel=_("epoch"), ylabel="%", title=_("test accuracy"))
ax[1].legend()
fig.tight_layout()

# %% [markdown] tags=["en"]
# The learned kernels (default split), before and after training: layer 1's
# two 3x3 kernels, and layer 2's four output channels, each with one 3x3
# kernel per input map.

# %% [markdown] tags=["zh"]
# 学到的卷积核（默认划分），训练前与训练后：第 1 层的两个 3x3 卷积核，以及第 2 层的四个输出通道，每个通道对每张输入特征图各有一个 3x3 卷积核。

# %%
n, data, h, w0 = runs["stratified"]
fig, ax = plt.subplots(2, 10, figsize=(13, 3.1))
for row, (w1, w2, when) in enumerate([(w0["w1"], w0["w2"], _("init")),
                                      (n.params["w1"], n.params["w2"], _("trained"))]):
    kernels = [(w1[f, 0], f"L1 k{f}") for f in range(2)] + \
              [(w2[f, c], f"L2 {f}<-{c}") for f in range(4) for c in range(2)]
    for j, (k, title) in enumerate(kernels):
        m = np.abs(k).max()
        ax[row, j].imshow(k, cmap="RdBu_r", vmin=-m, vmax=m)
        ax[row, j].set(xticks=[], yticks=[])
        ax[row, j].set_title(f"{title}\n{when}" if row == 0 else when, fontsize=8)
fig.tight_layout()
print("relative change of the kernels:",
      {k: round(float(np.linalg.norm(n.params[k] - w0[k]) / np.linalg.norm(w0[k])), 2)
       for k in w0})

# %% [markdown] tags=["en"]
# ## The broken back-prop study
#
# Seed 000's broken net changes one step of the backward pass at each max
# pool (`cnn.networks.pool_backward_variant`). The correct gradient into a
# pooled layer routes each upstream gradient to the maximum of its window, as
# derived on the [max pooling](../layers/max_pool.html) page; the exported fact:

# %% [markdown] tags=["zh"]
# ## 错误反向传播研究
#
# 源教程 000 的被破坏的网络在每个最大池化处改动反向传播中的一步（`cnn.networks.pool_backward_variant`）。正确的梯度传回池化之前的层时，把每个上游梯度交给它所在窗口中的最大值，推导见[最大池化](../layers/max_pool.html)一页；导出文件中的事实如下：

# %%
routing = derivations.load("max_pool").facts["routing_is_derivative_of_max"]
display(Math(routing["latex"]))

# %% [markdown] tags=["en"]
# With $M$ the pooling mask and $U(\delta)$ the upstream gradient spread over
# each 2x2 window, that is $M \odot U(\delta)$, which the broken variants
# replace by
#
# * `transposed_after_pool`: $(M \odot U(\delta))^\top$ (the post's text),
# * `rotated_after_pool`: $\mathrm{rot180}(M \odot U(\delta))$ (the post's code),
# * `transposed_pool_mask`: $M^\top \odot U(\delta)$ (the text),
# * `rotated_pool_mask`: $\mathrm{rot180}(M) \odot U(\delta)$ (the code, one channel).
#
# The forward pass is untouched, and so are the gradients of the dense
# layers; only the two convolutional layers learn from a wrong gradient.
# Three more rows ask how much the convolutional layers matter at all:
#
# * `correct_rot180_into_layer1`: the seed's own "original" net also has a
#   fault (below): it back-propagates $\mathrm{rot180}(\partial L/\partial p_1)$
#   into layer 1. This row is the correct network with only that fault.
# * `frozen_conv`: the correct network with both conv layers frozen at their
#   random initialisation; only the dense layers learn.
# * `dense_only`: no convolution: the same dense head on the 64 raw pixels.
#
# Every row was trained 20 times (seeds 0-19: initialisation and
# shuffling) at each of the seed's three dense sizes, with the CLI's
# default settings, on the default split. The record:

# %% [markdown] tags=["zh"]
# 记 $M$ 为池化掩码，$U(\delta)$ 为铺到每个 2x2 窗口上的上游梯度，上式就是 $M \odot U(\delta)$；被破坏的变体把它换成
#
# * `transposed_after_pool`：$(M \odot U(\delta))^\top$（文章正文的说法），
# * `rotated_after_pool`：$\mathrm{rot180}(M \odot U(\delta))$（文章代码的做法），
# * `transposed_pool_mask`：$M^\top \odot U(\delta)$（正文），
# * `rotated_pool_mask`：$\mathrm{rot180}(M) \odot U(\delta)$（代码，一个通道）。
#
# 前向传播没有改动，全连接层的梯度也没有改动；只有两个卷积层是从错误的梯度学习的。另外三行考察卷积层到底有多重要：
#
# * `correct_rot180_into_layer1`：源教程自己的“原始”网络也有一个错误（见下文）：它传回第 1 层的是 $\mathrm{rot180}(\partial L/\partial p_1)$。这一行是只带这一个错误的正确网络。
# * `frozen_conv`：正确的网络，但两个卷积层都冻结在随机初始值上；只有全连接层在学习。
# * `dense_only`：没有卷积：同样的全连接部分直接作用在 64 个原始像素上。
#
# 每一行都在源教程的三种全连接尺寸上各训练 20 次（随机种子 0-19，决定初始化和打乱顺序），使用命令行的默认设置，在默认划分上进行。记录如下：

# %%
study = load_record("broken_backprop.json")
v = study["versions"]
print("command:", study["command"])
print(f"recorded {study['date']}: {len(study['runs'])} runs in {study['seconds'] / 60:.1f} min "
      f"({study['jobs']} processes); python {v['python']}, numpy {v['numpy']}, "
      f"scikit-learn {v['scikit-learn']}, cnn {v['cnn']}, commit {v.get('git_commit', '?')[:7]}")
print("settings:", {k: study["settings"][k] for k in
                    ("epochs", "batch_size", "lr", "momentum", "schedule", "dtype",
                     "split", "n_train", "n_test")})

# %% [markdown] tags=["en"]
# Per row and dense size, over the 20 runs: the test accuracy (mean $\pm$
# standard deviation in %, the worst run, and how many runs got all 90 test
# images right), then the final cost (the mean L2 cost on the training set
# at the end: mean and worst run), then the median cosine between the row's
# conv-kernel gradients and the true ones at initialisation (layer 1 /
# layer 2; 1 = the true direction, 0 = unrelated).

# %% [markdown] tags=["zh"]
# 下面按行和全连接尺寸统计 20 次运行：先是测试准确率（均值 $\pm$ 标准差，单位为 %；最差的一次运行；以及有几次运行把 90 张测试图像全部分对），然后是最终代价（训练结束时训练集上的平均 L2 代价：均值和最差的一次），最后是初始化时该行的卷积核梯度与真实梯度之间余弦的中位数（第 1 层 / 第 2 层；1 表示与真实梯度方向相同，0 表示毫不相关）。

# %%
S = {(e["variant"], tuple(e["dense_sizes"])): e for e in study["summary"]}
sizes = [tuple(s) for s in study["dense_sizes"]]


def table(cell):
    """Rows: the study's variants; columns: the dense sizes; cell(entry) -> text."""
    head = "<tr><th>" + _("variant") + "</th>" + "".join(
        "<th>" + _("dense %(a)s-%(b)s", a=a, b=b) + "</th>" for a, b in sizes)
    rows = "".join(f"<tr><td>{v}</td>" + "".join(f"<td>{cell(S[(v, s)])}</td>" for s in sizes)
                   + "</tr>" for v in study["variants"])
    return f'<table style="font-size: 0.8em">{head}</tr>{rows}</table>'


def cosines(e):
    c = e.get("median_grad_cosine_at_init")
    return "-" if c is None else f"{c['w1']:.2f} / {c['w2']:.2f}"


print(_("test accuracy"))
display(HTML(table(lambda e: _("%(mean)s &plusmn; %(std)s, worst %(worst)s; %(k)s/%(n)s at 100%%",
                               mean=f"{100 * e['test_accuracy']['mean']:.2f}",
                               std=f"{100 * e['test_accuracy']['std']:.2f}",
                               worst=f"{100 * e['worst_test_accuracy']:.1f}",
                               k=round(e["fraction_100"] * e["n"]), n=e["n"]))))
print(_("final cost"))
display(HTML(table(lambda e: _("%(mean)s (worst %(worst)s)", mean=f"{e['final_loss']['mean']:.1e}",
                               worst=f"{e['worst_final_loss']:.1e}"))))
print(_("gradient cosine at initialisation, layer 1 / layer 2"))
display(HTML(table(cosines)))

# %%
variants = study["variants"]
by = {(r["variant"], tuple(r["dense_sizes"])): [] for r in study["runs"]}
for r in study["runs"]:
    by[(r["variant"], tuple(r["dense_sizes"]))].append(r)

fig, ax = plt.subplots(2, 1, figsize=(10, 7.5), sharex=True)
colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
rng = np.random.default_rng(0)       # horizontal jitter of the points only
width = 0.8 / len(sizes)
for i, variant in enumerate(variants):
    for j, size in enumerate(sizes):
        rs = by[(variant, size)]
        x0 = i + (j - (len(sizes) - 1) / 2) * width
        cost = [r["final_loss"] for r in rs]
        errors = [r["test_errors"] for r in rs]
        ax[0].boxplot(cost, positions=[x0], widths=width * 0.8, showfliers=False,
                      medianprops={"color": colors[j]})
        ax[0].scatter(x0 + rng.uniform(-0.25, 0.25, len(rs)) * width, cost, s=9,
                      color=colors[j], alpha=0.7,
                      label=_("dense %(a)s-%(b)s", a=size[0], b=size[1]) if i == 0 else None)
        ax[1].scatter(x0 + rng.uniform(-0.25, 0.25, len(rs)) * width, errors, s=9,
                      color=colors[j], alpha=0.7)
ax[0].set(yscale="log", ylabel=_("final cost (training set, log)"),
          title=_("%(n)s seeds per box", n=len(study["seeds"])))
ax[0].legend(fontsize=8)
ax[1].set_yscale("symlog", linthresh=2)   # 0, 1, 2 linear; the rare failures log-scaled
ax[1].set_ylim(-0.4, 70)
ax[1].set_yticks([0, 1, 2, 5, 10, 20, 45])
ax[1].set_yticklabels(["0", "1", "2", "5", "10", "20", "45"])
ax[1].set(ylabel=_("test errors (of %(n)s)", n=study["settings"]["n_test"]),
          xticks=range(len(variants)))
ax[1].set_xticklabels(variants, rotation=20, ha="right", fontsize=8)
for a in ax:
    for i in range(1, len(variants)):
        a.axvline(i - 0.5, color="0.9", lw=0.8, zorder=0)
fig.tight_layout()

# %% [markdown] tags=["en"]
# The same runs pooled over the three dense sizes (60 per row), each row
# against `correct`: the difference in mean test errors (of 90) and in mean
# $\log_{10}$ final cost, with a one-sided permutation test (10 000 random
# relabellings of the 120 runs; $p$ is the share of relabellings with a
# difference at least as large).

# %% [markdown] tags=["zh"]
# 把同一批运行按三种全连接尺寸合并（每行 60 次），每一行都与 `correct` 比较：平均测试错误数（共 90 张）之差，以及最终代价 $\log_{10}$ 的均值之差，并做单侧置换检验（把 120 次运行的标签随机重新分配 10 000 次；$p$ 是差值至少同样大的重新分配所占的比例）。

# %%
def pooled(variant, key):
    return np.array([r[key] for r in study["runs"] if r["variant"] == variant], float)


def permutation_p(a, b, rng, n=10_000):
    """One-sided p-value of mean(b) - mean(a) > 0 under random relabelling."""
    both, observed, hits = np.concatenate([a, b]), b.mean() - a.mean(), 0
    for _ in range(n):
        rng.shuffle(both)
        hits += both[len(a):].mean() - both[:len(a)].mean() >= observed
    return (hits + 1) / (n + 1)


rng = np.random.default_rng(0)
err0, cost0 = pooled("correct", "test_errors"), np.log10(pooled("correct", "final_loss"))
rows = []
for variant in variants:
    err, cost = pooled(variant, "test_errors"), np.log10(pooled(variant, "final_loss"))
    p_err = p_cost = "-"
    if variant != "correct":
        p_err = f"{permutation_p(err0, err, rng):.4f}"
        p_cost = f"{permutation_p(cost0, cost, rng):.4f}"
    rows.append(f"<tr><td>{variant}</td><td>{int(np.sum(err == 0))}/{len(err)}</td>"
                f"<td>{err.mean():.2f}</td><td>{int(err.max())}</td>"
                f"<td>{np.median(10 ** cost):.1e}</td>"
                f"<td>{np.median(10 ** cost) / np.median(10 ** cost0):.1f}</td>"
                f"<td>{p_err}</td><td>{p_cost}</td></tr>")
columns = [_("variant"), _("all right"), _("errors per run"), _("worst"), _("median cost"),
           _("x correct"), _("p (errors)"), _("p (cost)")]
display(HTML('<table style="font-size: 0.72em"><tr>' + "".join(f"<th>{c}</th>" for c in columns)
             + "</tr>" + "".join(rows) + "</table>"))

# %% [markdown] tags=["en"]
# ## What the evidence shows
#
# In the recorded study (the numbers above):
#
# * **The seed's observation holds in the weak sense.** Every broken variant
#   usually reaches a high test accuracy (a mean of 96.9-99.2% over 60
#   runs), and 19 to 33 of its 60 runs get all 90 test images right. Three runs
#   showing 100% on 10 test images, as in the seed, is what one should expect
#   to see from any of them.
# * **But every broken variant is worse than the correct network**, and
#   clearly so: more test errors on average, a median final training cost
#   3 to 36 times higher (36 for the rotation after the pool), with
#   permutation $p$-values far below 0.01 for all four. And the broken nets
#   sometimes fail outright: the worst runs misclassify 20 of the 90 images,
#   and one `transposed_pool_mask` run collapsed to an output of 0.5 for
#   every image (45 wrong), which is chance. The correct network's worst run
#   makes 2 errors.
# * **The variant the seed's code actually runs is the worst one.** Its
#   broken net rotates the derivative after the pool at layer 1 and on three
#   of the four layer-2 channels (`rotated_after_pool`); that row makes about
#   nine times as many test errors as the correct one, more even than never
#   training the conv layers at all (`frozen_conv`).
# * **Test accuracy is a blunt instrument here; the cost is not.** With 90
#   test images, and even more with the seed's 10, most runs of every row
#   are at or next to 100%. The final cost separates the rows by orders of
#   magnitude.
#
# ## Why the broken nets still reach high accuracy
#
# * **The dense layers learn correctly, and they can fit 0 against 1 alone.**
#   The broken variants change only the gradients of the two conv layers;
#   the dense layers get the true gradient for whatever features arrive,
#   and 0s and 1s differ in so many pixels that almost any features will do:
#   with the conv kernels frozen at random, the network still averages about
#   98%, and the same dense head on the raw pixels, with no convolution at
#   all (`dense_only`), is the best row of the study.
# * **The wrong gradients are not pure noise.** The mask variants keep each
#   window's gradient inside its own 2x2 window and only put it on the wrong
#   pixel (a transposed or rotated mask maps windows onto windows), so their
#   kernel gradients still point partly the right way: a median cosine of
#   mostly 0.3-0.5 with the true gradient at the start. The after-pool variants move
#   each window's gradient to another window (the transposed or rotated
#   position in the map); the transpose at least leaves the diagonal windows
#   in place (its layer-2 cosine is about 0.35), the 180-degree rotation
#   leaves none, and its cosines are 0.2 or less.
#   The rotation is the most damaging variant for that reason: its kernels
#   wander (by a median of twice their initial size, against about half
#   for the correct net) and hand the dense layers features that keep
#   changing under them.
#
# So the conv layers matter here only in one direction: bad conv features
# cost accuracy (random kernels: about six times the correct net's test
# errors), but good accuracy on 0 against 1 does not need them. The seed's
# experiment shows that this task is too easy to tell a broken gradient from
# a correct one with three runs and ten test images; it does not show that
# the broken back-propagation works as well.
#
# ## The seed's other faults
#
# * **The `w1b` bug.** In seed 000's code all four layer-2 convolutions use
#   `w1b`, a layer-1 kernel, instead of `w2a..w2d`, while the gradients
#   update `w2a..w2d`, which the forward pass never uses. So its layer 2 did
#   not learn from its own gradient in either net (its kernel changed only
#   as layer 1's `w1b` did). Here layer 2 is a standard multi-channel
#   convolution with its own kernels, each output channel summing over both
#   input maps (the seed's wiring of one map per channel was ad hoc).
# * **ReLU forward, tanh backward.** The seed's fourth layer-2 channel
#   applies ReLU in the forward pass but multiplies by tanh's derivative in
#   the backward pass. Here each channel's backward pass uses the derivative
#   of its own activation (tanh, as the seed's list of activations says, for
#   that channel).
# * **The seed's "correct" net is not correct either.** It back-propagates
#   from layer 2 into layer 1 with
#   `convolve2d(np.pad(w2, 2), np.rot90(delta, 2), 'valid')`, which is the
#   true $\partial L/\partial p_1$ rotated by 180 degrees (checked numerically
#   with SciPy; see `cnn.Digits01Net`). So its "original" net also trained
#   layer 1 on a wrong gradient. The `correct_rot180_into_layer1` row isolates
#   that one fault: the layer-1 gradient's cosine with the true one is about
#   0.1-0.2 at the start, the final cost is higher than the correct net's,
#   and the test errors are not distinguishable from it (layer 1 has only two
#   3x3 kernels, and the rest of the network is right). The seed's comparison
#   of "original" against "broken" was a comparison of two networks with
#   wrong conv gradients, both with the `w1b` bug.
# * The seed's convolution is a true convolution (`scipy.signal.convolve2d`,
#   flipped kernel); `cnn.conv2d` is a cross-correlation, the same model with
#   the kernels flipped.

# %% [markdown] tags=["zh"]
# ## 证据表明了什么
#
# 在记录下来的研究中（即上面的数字）：
#
# * **源教程的观察在较弱的意义上成立。** 每种被破坏的变体通常都能达到较高的测试准确率（60 次运行的均值为 96.9-99.2%），60 次运行中有 19 到 33 次把 90 张测试图像全部分对。像源教程那样，三次运行在 10 张测试图像上都得到 100%，对其中任何一种变体来说都在意料之中。
# * **但每种被破坏的变体都比正确的网络差**，而且差得很明显：平均测试错误更多，最终训练代价的中位数是正确网络的 3 到 36 倍（池化之后旋转的那种是 36 倍），四种变体的置换检验 $p$ 值都远低于 0.01。被破坏的网络有时还会彻底失败：最差的几次运行把 90 张图像中的 20 张分错，还有一次 `transposed_pool_mask` 运行塌缩成对每张图像都输出 0.5（错 45 张），也就是随机猜测的水平。正确网络最差的一次运行只错 2 张。
# * **源教程代码实际运行的那种变体最差。** 它的被破坏网络在第 1 层以及第 2 层四个通道中的三个上，把池化之后的导数旋转（`rotated_after_pool`）；这一行的测试错误约为正确网络的九倍，甚至比完全不训练卷积层（`frozen_conv`）还多。
# * **在这里，测试准确率是一把很粗的尺子，代价则不是。** 只有 90 张测试图像（源教程只有 10 张，更是如此），每一行的大多数运行都在 100% 或紧挨着 100%。而最终代价能把各行拉开几个数量级。
#
# ## 为什么被破坏的网络仍能达到高准确率
#
# * **全连接层学得是对的，而且单靠它们就能区分 0 和 1。** 被破坏的变体只改变两个卷积层的梯度；无论传来的是什么特征，全连接层得到的都是真实梯度。而 0 和 1 在那么多像素上都不同，几乎任何特征都够用：卷积核冻结在随机值上时，网络的平均准确率仍约为 98%；同样的全连接部分直接作用在原始像素上、完全不用卷积（`dense_only`），是整个研究中最好的一行。
# * **错误的梯度并不是纯粹的噪声。** 掩码类变体让每个窗口的梯度留在它自己的 2x2 窗口内，只是落在了错误的像素上（转置或旋转后的掩码把窗口映射到窗口上），所以它们的卷积核梯度仍部分指向正确的方向：开始时与真实梯度的余弦中位数大多在 0.3-0.5。池化之后类变体则把每个窗口的梯度移到另一个窗口（特征图中转置或旋转后的位置）；转置至少让对角线上的窗口留在原处（它在第 2 层的余弦约为 0.35），180 度旋转则一个也不留，它的余弦不超过 0.2。正因为如此，旋转是破坏性最大的变体：它的卷积核四处漂移（变化量的中位数是初始大小的两倍，而正确网络约为一半），交给全连接层的特征在全连接层学习的同时不停地变化。
#
# 所以在这里，卷积层只在一个方向上起作用：差的卷积特征会拉低准确率（随机卷积核：测试错误约为正确网络的六倍），但要在 0 和 1 上取得好的准确率并不需要它们。源教程的实验说明的是：这个任务太容易了，凭三次运行和十张测试图像分辨不出错误的梯度和正确的梯度；它并没有说明被破坏的反向传播效果一样好。
#
# ## 源教程的其他错误
#
# * **`w1b` bug。** 在源教程 000 的代码中，第 2 层的四个卷积都用了第 1 层的卷积核 `w1b`，而不是 `w2a..w2d`；而梯度更新的却是前向传播从未用到的 `w2a..w2d`。因此在两个网络中，它的第 2 层都没有从自己的梯度中学习（它的卷积核只随第 1 层的 `w1b` 一起变化）。这里的第 2 层是标准的多通道卷积，有自己的卷积核，每个输出通道都对两张输入特征图求和（源教程那种每个通道只接一张特征图的接法只是一种随意的安排）。
# * **前向用 ReLU，反向用 tanh。** 源教程第 2 层的第四个通道在前向传播中用 ReLU，在反向传播中却乘以 tanh 的导数。这里每个通道的反向传播都使用它自己的激活函数的导数（那个通道用 tanh，与源教程列出的激活函数一致）。
# * **源教程的“正确”网络其实也不正确。** 它从第 2 层反向传播到第 1 层时用的是 `convolve2d(np.pad(w2, 2), np.rot90(delta, 2), 'valid')`，得到的是真实的 $\partial L/\partial p_1$ 旋转 180 度之后的结果（已用 SciPy 做数值核对；见 `cnn.Digits01Net`）。所以它的“原始”网络也是在错误的梯度上训练第 1 层。`correct_rot180_into_layer1` 这一行单独考察这一个错误：开始时，第 1 层梯度与真实梯度的余弦约为 0.1-0.2，最终代价高于正确网络，而测试错误数与正确网络区分不开（第 1 层只有两个 3x3 卷积核，网络的其余部分都是对的）。源教程拿“原始”网络与“被破坏”的网络作比较，实际上比较的是两个卷积梯度都不对、而且都带着 `w1b` bug 的网络。
# * 源教程的卷积是真卷积（`scipy.signal.convolve2d`，卷积核翻转）；`cnn.conv2d` 是互相关，是同一个模型，只是卷积核翻转了。
