# %% [markdown]
# # The MNIST network
#
# Seed 003 (part IV of a series) builds a batched CNN for MNIST:
#
# | step | operation | shape for a batch of $N$ |
# |---|---|---|
# | input | 28x28 grey images | (N, 1, 28, 28) |
# | conv | 2 kernels 5x5, + bias | (N, 2, 24, 24) |
# | | ReLU, 2x2 max pool, stride 2 | (N, 2, 12, 12) |
# | flatten | | (N, 288) |
# | dense | 288 -> 60, + bias, ReLU | (N, 60) |
# | dense | 60 -> 10, + bias | (N, 10) |
# | cost | softmax cross-entropy, mean over the batch | scalar |
#
# Seed 001 trains the same kind of network (conv, max pool, flatten, dense,
# softmax) with Python loops and stops at 37.7% test accuracy. `cnn.MnistNet`
# is seed 003's network, assembled from the library's layers; the deltas of
# seed 003 are derived and checked on the
# [dense, softmax and cross-entropy page](../layers/dense_softmax.html#seed-003s-deltas-in-its-column-layout), in its
# column layout.
#
# The build of this site is offline, so this page trains the network live on
# scikit-learn's 8x8 digits, enlarged onto MNIST's 28x28 canvas; the results
# on real MNIST come from a recorded command (below). To reproduce the live
# part: `cnn train mnist --dataset digits`.

# %%
import re
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, display
from sklearn.metrics import confusion_matrix

import cnn
from cnn.cli import DEFAULTS
from cnn.data import load_digits, to_mnist_canvas

# The studies, their records and the figures live in the checkout, not in
# the installed package: put the checkout on sys.path.
sys.path.insert(0, str(Path(cnn.__file__).resolve().parents[1]))
from studies import load_record  # noqa: E402

data = load_digits(canvas=True)        # what `cnn train mnist --dataset digits` reads
print(f"{len(data.y_train)} training and {len(data.y_test)} test images, "
      f"shape {data.X_train.shape[1:]}")

# %% [markdown]
# The table above as a picture, drawn from a forward pass of `cnn.MnistNet`:
# each box is an array with its shape (N images per batch), each arrow the
# operation that makes the next one. Watch the sizes shrink: 28 to 24 (a 5x5
# kernel without padding), 24 to 12 (the pool), then 288 numbers per image.

# %%
from docs.figures import FIGURES  # noqa: E402

figure = FIGURES["arch_mnist"]()
HTML(f'<figure class="cnn-figure">{figure.svg}<figcaption>{figure.caption}</figcaption>'
     '</figure>')

# %% [markdown]
# ## The digits on a 28x28 canvas
#
# Every pixel of an 8x8 digit becomes a 3x3 block (24x24) and a 2-pixel
# border is added, as MNIST's digits sit in a 20x20 box in the middle of a
# 28x28 image. So the network is exactly seed 003's (288 features after the
# pool). The alternative, shrinking the network to 8x8 inputs, leaves 8
# features after the pool; when the canvas was chosen it measured 90% test
# accuracy against 98% for the canvas (`cnn.data.to_mnist_canvas` documents
# the comparison).

# %%
small = load_digits()
fig, ax = plt.subplots(2, 6, figsize=(9, 3.4))
for j in range(6):
    ax[0, j].imshow(small.X_train[j, 0], cmap="gray_r")
    ax[0, j].set_title(f"{small.y_train[j]}: 8x8", fontsize=9)
    ax[1, j].imshow(to_mnist_canvas(small.X_train[j:j + 1])[0, 0], cmap="gray_r")
    ax[1, j].set_title("28x28 canvas", fontsize=9)
for a in ax.ravel():
    a.set(xticks=[], yticks=[])
fig.tight_layout()

# %% [markdown]
# ## Training, live
#
# The `cnn train mnist --dataset digits` defaults: mini-batch SGD with
# momentum, a cosine learning-rate schedule after a short linear warm-up,
# He initialisation, inputs standardised with the training pixels' mean and
# standard deviation, float32.

# %%
hp = DEFAULTS[("mnist", "digits")]
print(hp)
net = cnn.MnistNet(input_shape=data.image_shape, dtype=hp["dtype"], seed=hp["seed"])
net.fit_input_scaling(data.X_train)
kernels_before = net.params["conv_w"].copy()
history = cnn.train(net, data.X_train, data.y_train, epochs=hp["epochs"],
                    batch_size=hp["batch_size"], lr=hp["lr"], momentum=hp["momentum"],
                    schedule=hp["schedule"], warmup_steps=hp["warmup"], seed=hp["seed"],
                    X_test=data.X_test, y_test=data.y_test)
test = net.evaluate(data.X_test, data.y_test)
train_m = net.evaluate(data.X_train, data.y_train)
print(f"train accuracy {100 * train_m['accuracy']:.2f}%, test accuracy "
      f"{100 * test['accuracy']:.2f}% ({len(data.y_test)} images), "
      f"{history.seconds:.1f} s for {hp['epochs']} epochs")

# %%
ep = [e["epoch"] for e in history.epochs]
fig, ax = plt.subplots(1, 3, figsize=(12, 3.4))
ax[0].semilogy(ep, [e["train_loss"] for e in history.epochs], label="train (during the epoch)")
ax[0].semilogy(ep, [e["test_loss"] for e in history.epochs], label="test")
ax[0].set(xlabel="epoch", ylabel="cross-entropy", title="loss")
ax[0].legend()
ax[1].plot(ep, [100 * e["test_accuracy"] for e in history.epochs])
ax[1].set(xlabel="epoch", ylabel="%", title="test accuracy")
ax[2].plot(ep, [e["lr"] for e in history.epochs])
ax[2].set(xlabel="epoch", ylabel="learning rate", title="schedule (end of each epoch)")
fig.tight_layout()

# %% [markdown]
# The two learned 5x5 kernels, before and after training, and the confusion
# matrix on the held-out digits:

# %%
fig, ax = plt.subplots(1, 5, figsize=(12, 2.8),
                       gridspec_kw={"width_ratios": [1, 1, 1, 1, 2.2]})
for f in range(2):
    for col, (w, when) in enumerate([(kernels_before, "init"), (net.params["conv_w"], "trained")]):
        a = ax[2 * f + col]
        m = np.abs(w[f, 0]).max()
        a.imshow(w[f, 0], cmap="RdBu_r", vmin=-m, vmax=m)
        a.set(title=f"kernel {f}, {when}", xticks=[], yticks=[])
cm = confusion_matrix(data.y_test, net.predict(data.X_test))
ax[4].imshow(cm, cmap="Blues")
for i, j in zip(*np.nonzero(cm)):
    ax[4].text(j, i, cm[i, j], ha="center", va="center", fontsize=7,
               color="white" if cm[i, j] > cm.max() / 2 else "black")
ax[4].set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10),
          title="confusion matrix (test)")
fig.tight_layout()

# %% [markdown]
# ## Real MNIST, recorded
#
# What we ask of this network: at least 97.5% test accuracy on real MNIST after 3
# epochs with the CLI's default hyper-parameters (batch 64, lr 0.05,
# momentum 0.9, cosine schedule after 200 warm-up steps, He initialisation,
# standardised inputs, float32, one BLAS thread). Recorded with these
# commands (the default seed 0, then seeds 1 and 2); `DIR` holds the four
# IDX files:

# %%
mnist = load_record("mnist_3epochs.json")


def as_readme(command):
    """The recorded command with its data directory written DIR, as in the README."""
    return re.sub(r"--data \S+", "--data DIR", command)


print(f"recorded {mnist['date']} with numpy {mnist['versions']['numpy']}, "
      f"cnn {mnist['versions']['cnn']} (commit {mnist['versions']['git_commit'][:7]})\n")
rows = []
for run in mnist["runs"]:
    o = run["output"]
    cmd = as_readme(run["command"])
    per_epoch = ", ".join(f"{100 * e['test_accuracy']:.2f}" for e in o["history"])
    rows.append(f"<tr><td><code>{cmd}</code></td><td>{100 * o['test_accuracy']:.2f}%</td>"
                f"<td>{100 * o['train_accuracy']:.2f}%</td><td>{o['final_loss']:.4f}</td>"
                f"<td>{o['seconds_per_epoch']:.2f}</td><td>{per_epoch}</td></tr>")
display(HTML('<table style="font-size: 0.72em"><tr><th>command</th><th>test acc.</th>'
             '<th>train acc.</th><th>train loss</th><th>s per epoch</th>'
             '<th>test acc. after each epoch</th></tr>' + "".join(rows) + "</table>"))
acc = np.array(mnist["summary"]["test_accuracy"])
print(f"test accuracy: mean {100 * acc.mean():.2f}%, worst {100 * acc.min():.2f}% "
      f"(target 97.5%)")
print("recorded with:", as_readme(mnist["command"]))

# %% [markdown]
# Every seed clears 97.5%, and an epoch of 60000 images takes a few seconds
# on one core. (For scale: plain PyTorch SGD with momentum 0.9, lr 0.05 and
# batch 64 reached 97.3% after 3 epochs on this machine.)
#
# ## Why seed 001 stopped at 37.7%
#
# Seed 001 reports test accuracy rising "from 14.8% up to 37.7%" after "a
# loooooooooong time", and stopping because learning was slow. Its code was
# not found, so its learning rate, initialisation, batch size and number of
# updates are unknown; what can be said:
#
# * **Speed, hence the number of updates.** Written with loops, one forward
#   and backward pass costs tens of milliseconds per image (measured on the
#   [loops vs vectorised page](loops_vs_vectorised.html): hundreds of times
#   slower than the vectorised layers), so one epoch of MNIST takes over
#   twenty minutes of pure Python, and the three epochs that bring the
#   vectorised network to 98% over an hour. Slow learning per update then
#   becomes slow learning per hour.
# * **Initialisation, input scale, learning rate.** With those fixed badly the
#   network learns slowly even per update. The cell below trains the same
#   network on the same digits with one ingredient of the recipe changed at
#   a time, for the same number of epochs: a seed-style `randn`
#   initialisation (scale 1), raw pixels without standardisation, and plain
#   SGD with a small constant learning rate.
# * **Epochs.** 37.7% is where a slowly learning network is after little
#   training, not a limit of the architecture: the same network reaches 98%.

# %%
def run(label, *, init_scale=None, standardise=True, lr=hp["lr"], momentum=hp["momentum"],
        schedule=hp["schedule"], epochs=10):
    n = cnn.MnistNet(input_shape=data.image_shape, dtype=hp["dtype"], seed=0)
    if standardise:
        n.fit_input_scaling(data.X_train)
    if init_scale is not None:    # every weight ~ N(0, init_scale^2), as `randn * scale`
        rng = np.random.default_rng(0)
        for k in ("conv_w", "w1", "w2"):
            n.params[k] = (rng.standard_normal(n.params[k].shape) * init_scale).astype(np.float32)
    scale = float(np.std(n.output(data.X_train[:256])))
    try:
        h = cnn.train(n, data.X_train, data.y_train, epochs=epochs, batch_size=hp["batch_size"],
                      lr=lr, momentum=momentum, schedule=schedule,
                      warmup_steps=hp["warmup"] if schedule == "cosine" else 0, seed=0,
                      X_test=data.X_test, y_test=data.y_test)
    except cnn.TrainingDivergedError as exc:
        print(f"{label}\n    diverged: {str(exc).split(';')[0]}")
        return label, None
    print(f"{label}\n    logits at init: std {scale:.2f}; test accuracy "
          f"{100 * h.epochs[-1]['test_accuracy']:.2f}% after {epochs} epochs")
    return label, [100 * e["test_accuracy"] for e in h.epochs]


curves = [
    run("the recipe (the CLI defaults), 10 epochs"),
    run("seed-style init: randn, scale 1", init_scale=1.0),
    run("raw pixels in [0, 1], not standardised", standardise=False),
    run("plain SGD, constant lr 0.001, no momentum", lr=0.001, momentum=0.0,
        schedule="constant"),
]
fig, ax = plt.subplots(figsize=(7, 3.6))
for label, c in curves:
    if c is not None:
        ax.plot(range(1, len(c) + 1), c, label=label)
ax.set(xlabel="epoch", ylabel="test accuracy (%)", ylim=(0, 100),
       title="one change at a time (digits on the 28x28 canvas)")
ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()

# %% [markdown]
# What the cell shows, on these small digits (the numbers are printed
# above):
#
# * The seed-style `randn` initialisation is the one change that stops
#   learning altogether: the logits start in the hundreds, the softmax is
#   saturated and the network stays at chance (10%) for all ten epochs.
#   He initialisation keeps every layer's output of order 1.
# * Plain SGD with a small constant learning rate and no momentum still
#   learns, but after the same ten epochs it is far behind; it needs many
#   more updates.
# * Standardising the inputs makes little difference here (pixels in
#   [0, 1] are already of order 1).
#
# Which of these held back seed 001 cannot be told without its code. That
# its loops held everything back is measured: at loop speed the same number
# of updates costs hundreds of times longer.
