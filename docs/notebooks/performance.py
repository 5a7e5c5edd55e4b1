# %% [markdown]
# # Benchmark results
#
# Every number and plot on this page is read from `docs/results/bench.json`,
# the record of one run of the benchmark (`benchmarks/`, in the source
# checkout) on the machine described below; nothing here is typed by hand.
# The record holds the command that made it, printed below; the
# *Performance* page, next to this one, explains what is measured and how
# the NumPy step is fast. To measure your own machine, from the root of a
# checkout: `python -m benchmarks.bench --quick` (about a minute; `--json PATH`
# keeps the record, `--mnist DIR` times the epoch on real MNIST, `--docs` the
# site build).
#
# How to read the numbers: the machine is shared and noisy, so the
# implementations are interleaved round by round, a time is the median over
# rounds, and a ratio is taken within each round before its median; the
# brackets give the 10th-90th percentile over rounds, and where the run was
# repeated, the spread over the repeats.

# %%
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

import cnn

# The benchmark and its record live in the checkout, not in the installed
# package: put the checkout on sys.path.
sys.path.insert(0, str(Path(cnn.__file__).resolve().parents[1]))
from studies import load_record  # noqa: E402

record = load_record("bench.json")
runs, summary, first = record["runs"], record["summary"], record["threads"][0]


def ms(seconds):
    return f"{seconds * 1e3:.3f}"


def spread(stats, scale=1.0, fmt="{:.2f}"):
    return (fmt.format(stats["median"] * scale) + " [" + fmt.format(stats["p10"] * scale)
            + "-" + fmt.format(stats["p90"] * scale) + "]")


m, v = record["machine"], record["versions"]
display(Markdown(f"""
**Command:** `{record['command']}`, started {record['started']}, {record['seconds']:.0f} s,
{len(runs)} repeat(s){', quick mode' if record['quick'] else ''}.

**Machine:** {m['cpu']}, {m['logical_cpus']} logical CPUs ({', '.join(m['cpu_flags'])}),
{m['platform']}; load average {m['loadavg_start'][0]:.2f} at the start and
{m['loadavg_end'][0]:.2f} at the end (other processes shared the machine).

**Versions:** Python {v['python']}, NumPy {v['numpy']} with {'; '.join(v['blas'])},
PyTorch {v['torch']}, threadpoolctl {v.get('threadpoolctl')}.

**Threads:** measured with {', '.join(map(str, record['threads']))} BLAS/OpenMP
thread(s) (threadpoolctl limits NumPy's OpenBLAS and PyTorch's OpenMP pool, and
`torch.set_num_threads` is set to the same number); the targets use {first}
unless a row names another.
"""))

# %% [markdown]
# ## The targets
#
# One training step of the seed-003 MNIST network (conv 2x1x5x5, ReLU, 2x2
# max pool, dense 288 -> 60, ReLU, dense 60 -> 10, softmax cross-entropy;
# forward, backward and SGD update) at batch 64 in float32, as a ratio of
# our time over PyTorch's: the step a user composes from the public layer
# functions, and the step `cnn.train` takes; each layer alone; the loops;
# one epoch.

# %%
rows = ["| measure | median over repeats | min - max | target | met |",
        "|---|---:|---:|---|---|"]
for r in summary["rows"]:
    goal = f"{r['op']} {r['goal']:g}"
    if "median" not in r:
        rows.append(f"| {r['label']} | not measured | | {goal} | |")
        continue
    fmt = "{:.0f}" if r["median"] >= 100 else "{:.3f}"
    rows.append(f"| {r['label']} | {fmt.format(r['median'])} | {fmt.format(r['min'])} - "
                f"{fmt.format(r['max'])} | {goal} | {'yes' if r['met'] else '**missed**'} |")
epoch = runs[0]["epoch"]
display(Markdown("\n".join(rows) + f"\n\nThe epoch ran on {epoch['data']} "
                 f"({epoch['images']} images per timed epoch, batch {epoch['batch']}, "
                 f"lr {epoch['lr']})"
                 + (f"; test accuracy after that one epoch: "
                    f"{epoch['test_accuracy_after_one_epoch']:.4f}."
                    if "test_accuracy_after_one_epoch" in epoch else ".")))

# %% [markdown]
# ## The training step
#
# `composed` is the network written with the public functions
# (`cnn/networks/composed.py`) followed by `cnn.SGD`'s step; `train` is what
# `cnn.train` runs per batch, `MnistNet.loss_and_grads` plus the optimiser's
# step; `torch` is `torch.nn.functional` + autograd + a manual SGD update.
# GFLOP/s count the step's useful floating-point operations
# (`benchmarks/steps.py`, `step_flops`: 222,480 per image) and are set
# against one large matrix product on the same thread count.

# %%
one = runs[0]
rows = ["| threads | dtype | batch | composed, ms | train, ms | PyTorch, ms | composed / PyTorch "
        "| train / PyTorch | images/s (train) | GFLOP/s (train) | % of GEMM peak |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for r in one["mnist_step"]:
    im, peak = r["impl"], one["gemm_peak"][str(r["threads"])][r["dtype"]]["gflops"]
    torch_ms = spread(im["torch"]["seconds"], 1e3, "{:.3f}") if "torch" in im else "-"
    ratios = [spread(r[k]) if k in r else "-" for k in ("composed_over_torch", "train_over_torch")]
    rows.append(f"| {r['threads']} | {r['dtype']} | {r['batch']} | "
                f"{ms(im['composed']['seconds']['median'])} | "
                f"{spread(im['train']['seconds'], 1e3, '{:.3f}')} | {torch_ms} | "
                f"{ratios[0]} | {ratios[1]} | "
                f"{im['train']['images_per_s']:,.0f} | {im['train']['gflops']:.1f} | "
                f"{100 * im['train']['gflops'] / peak:.0f}% |")
peaks = ", ".join(f"{t} thread(s): {p['float32']['gflops']:.0f} GFLOP/s float32, "
                  f"{p['float64']['gflops']:.0f} float64" for t, p in one["gemm_peak"].items())
display(Markdown("\n".join(rows) + f"\n\nGEMM peak ({one['gemm_peak'][str(first)]['float32']['n']}"
                 f"-square matrix product): {peaks}."))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
step_rows = [r for r in one["mnist_step"] if r["threads"] == first and r["dtype"] == "float32"]
batches = [r["batch"] for r in step_rows]
for name, marker in (("composed", "o"), ("train", "s"), ("torch", "^")):
    if name in step_rows[0]["impl"]:
        per_image = [r["impl"][name]["seconds"]["median"] / r["batch"] * 1e6 for r in step_rows]
        axes[0].plot(batches, per_image, marker=marker, label=name)
axes[0].set(xscale="log", xticks=batches, xticklabels=batches, xlabel="batch",
            ylabel="microseconds per image", ylim=(0, None),
            title=f"one training step, float32, {first} thread")
axes[0].legend()
labels_, values, low, high = [], [], [], []
for r in one["mnist_step"]:
    if "train_over_torch" in r:
        s = r["train_over_torch"]
        labels_.append(f"{r['dtype'][5:]} b{r['batch']} t{r['threads']}")
        values.append(s["median"])
        low.append(s["median"] - s["p10"])
        high.append(s["p90"] - s["median"])
if values:
    goal = next(r["goal"] for r in summary["rows"] if r["key"] == "train")
    y = np.arange(len(values))
    axes[1].barh(y, values, xerr=[low, high], color="tab:blue", alpha=0.7)
    axes[1].axvline(goal, color="tab:red", linestyle="--", label=f"target {goal:g} (b64, float32)")
    axes[1].axvline(1.0, color="grey", linewidth=0.8)
    axes[1].set(yticks=y, yticklabels=labels_, xlabel="train / PyTorch (median, p10-p90)",
                title="time ratio per step (float bits, batch, threads)")
    axes[1].invert_yaxis()
    axes[1].legend()
fig.tight_layout()

# %% [markdown]
# ## Where the time goes
#
# One step at batch 64, float32. `composed`: each public layer call of the
# composed step, timed inside it (the one composed definition run with
# timed layer functions; `rest` is ReLU and the reshapes). `train`: the
# training step and its two halves, timed alone. PyTorch: forward with the
# loss, backward ((forward + backward) minus forward) and an update of the
# same size.

# %%
prof = one["profile"]
rows = ["| part | phase | median, ms | share of its step |", "|---|---|---:|---:|"]
for part, total in (("composed", "loss_and_grads"), ("train", "step"), ("torch", "step")):
    for key, s in prof.get(part, {}).items():
        rows.append(f"| {part} | `{key}` | {ms(s['median'])} | "
                    f"{100 * s['median'] / prof[part][total]['median']:.0f}% |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## Against the loops, and the layers alone
#
# The loop reference is the same composed network with the layers of
# `cnn/reference.py` (one Python loop per index), on a batch of one or two
# images, against the training step at batch 64, both per image.

# %%
rows = ["| dtype | loops, ms per image | ours, microseconds per image | loops / ours |",
        "|---|---:|---:|---:|"]
for r in one["loops"]:
    rows.append(f"| {r['dtype']} | {r['loops_per_image_s']['median'] * 1e3:.1f} | "
                f"{r['ours_per_image_s']['median'] * 1e6:.1f} | "
                f"{r['loops_over_ours']['median']:.0f} |")
rows += ["", "Forward + backward of one layer, float32, ms:", "",
         "| layer | ours | PyTorch | ours / PyTorch |", "|---|---:|---:|---:|"]
for r in one["layers"]:
    t = r["impl"].get("torch")
    rows.append(f"| `{r['name']}` | {ms(r['impl']['ours']['seconds']['median'])} | "
                f"{ms(t['seconds']['median']) if t else '-'} | "
                f"{spread(r['ours_over_torch']) if t else '-'} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## The rest of the project
#
# Deriving and exporting every formula (each subject in a fresh interpreter,
# into a temporary directory) and, when the run was asked for it, building
# this site (`mkdocs build --strict`, notebooks executed).

# %%
d = record["derivations"]
lines = [f"Derive + export: {d['seconds']:.1f} s"
         + (f" ({', '.join(f'{k} {t:.1f} s' for k, t in d['subjects'].items())}); the exports "
            f"written are byte-identical to the committed ones: "
            f"{all(d['identical_to_committed'].values())}." if d["ok"] else " (failed).")]
if "docs_build" in record:
    b = record["docs_build"]
    lines.append(f"Site build: {b['seconds']:.1f} s" + ("." if b["ok"] else " (failed)."))
else:
    lines.append("Site build: not timed in this run (`--docs`).")
display(Markdown("\n\n".join(lines)))

# %% [markdown]
# Agreement with PyTorch on one batch (perturbed weights, generic data):
# relative difference of the loss and of each gradient.

# %%
for a in record.get("torch_agreement", []):
    worst = max(a["grad_rel_diff"].values())
    print(f"{a['dtype']}: loss {a['loss_rel_diff']:.1e}, largest gradient difference {worst:.1e}")
