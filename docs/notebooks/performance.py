# %% [markdown]
# # Benchmark results
#
# Every number and plot on this page is read from `docs/results/bench.json`,
# the record of one run of `python -m cnn.bench` (also `cnn bench`) on the
# machine described below; nothing here is typed by hand. The
# *Performance* page, next to this one, explains what is measured and why
# the NumPy step is fast. To measure your own machine:
# `python -m cnn.bench --json bench.json` (add `--quick` for a 30-second
# version, `--mnist DIR` to time the epoch on real MNIST, `--docs` to time
# the site build).
#
# How to read the numbers: the machine is shared and noisy, so the
# implementations are interleaved round by round, a time is the median over
# rounds, and a ratio is taken within each round before its median; the
# brackets give the 10th-90th percentile over rounds, and where the run was
# repeated, the spread over the repeats.

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from cnn.studies import load_record

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
`torch.set_num_threads` is set to the same number); the speed goals use {first}.
"""))

# %% [markdown]
# ## The speed goals
#
# One training step of the seed-003 MNIST network (conv 2x1x5x5, ReLU, 2x2
# max pool, dense 288 -> 60, ReLU, dense 60 -> 10, softmax cross-entropy;
# forward, backward and SGD update) at batch 64 in float32, with the thread
# count above, and one epoch of 60,000 images.

# %%
labels = {"ours_over_torch": ("ours / PyTorch, time per step", "<= 0.5", "{:.3f}"),
          "loops_over_ours": ("loop reference / ours, time per image", ">= 1000", "{:.0f}"),
          "epoch_seconds": ("epoch of 60,000 images (sgd_step loop), s", "< 2", "{:.2f}"),
          "epoch_seconds_train_loop": ("epoch through cnn.train (no goal), s", "", "{:.2f}")}
rows = ["| measure | median over repeats | min - max | goal | met |", "|---|---:|---:|---|---|"]
for key, (label, target, fmt) in labels.items():
    s = summary.get(key)
    if s is None:
        rows.append(f"| {label} | not measured | | {target} | |")
        continue
    met = summary["target_met"].get(key)
    rows.append(f"| {label} | {fmt.format(s['median'])} | {fmt.format(s['min'])} - "
                f"{fmt.format(s['max'])} | {target} | "
                f"{'' if met is None else ('yes' if met else '**no**')} |")
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
# `ours` is `MnistNet.sgd_step` (buffers reused, one fused update);
# `ours_api` is what `cnn.train` runs, `loss_and_grads` plus `cnn.SGD.step`;
# `torch` is `torch.nn.functional` + autograd + a manual SGD update.
# GFLOP/s count the step's useful floating-point operations (see
# `cnn.bench.step_flops`: 222,480 per image) and are set against one large
# matrix product on the same thread count.

# %%
one = runs[0]
rows = ["| threads | dtype | batch | ours, ms | ours_api, ms | PyTorch, ms | ours / PyTorch "
        "| images/s (ours) | GFLOP/s (ours) | % of GEMM peak |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
for r in one["mnist_step"]:
    im, peak = r["impl"], one["gemm_peak"][str(r["threads"])][r["dtype"]]["gflops"]
    torch_ms = spread(im["torch"]["seconds"], 1e3, "{:.3f}") if "torch" in im else "-"
    ratio = spread(r["ours_over_torch"]) if "ours_over_torch" in r else "-"
    rows.append(f"| {r['threads']} | {r['dtype']} | {r['batch']} | "
                f"{spread(im['ours']['seconds'], 1e3, '{:.3f}')} | "
                f"{ms(im['ours_api']['seconds']['median'])} | {torch_ms} | {ratio} | "
                f"{im['ours']['images_per_s']:,.0f} | {im['ours']['gflops']:.1f} | "
                f"{100 * im['ours']['gflops'] / peak:.0f}% |")
peaks = ", ".join(f"{t} thread(s): {p['float32']['gflops']:.0f} GFLOP/s float32, "
                  f"{p['float64']['gflops']:.0f} float64" for t, p in one["gemm_peak"].items())
display(Markdown("\n".join(rows) + f"\n\nGEMM peak ({one['gemm_peak'][str(first)]['float32']['n']}"
                 f"-square matrix product): {peaks}."))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
step_rows = [r for r in one["mnist_step"] if r["threads"] == first and r["dtype"] == "float32"]
batches = [r["batch"] for r in step_rows]
for name, marker in (("ours", "o"), ("ours_api", "s"), ("torch", "^")):
    if name in step_rows[0]["impl"]:
        per_image = [r["impl"][name]["seconds"]["median"] / r["batch"] * 1e6 for r in step_rows]
        axes[0].plot(batches, per_image, marker=marker, label=name)
axes[0].set(xscale="log", xticks=batches, xticklabels=batches, xlabel="batch",
            ylabel="microseconds per image", ylim=(0, None),
            title=f"one training step, float32, {first} thread")
axes[0].legend()
labels_, values, low, high = [], [], [], []
for r in one["mnist_step"]:
    if "ours_over_torch" in r:
        s = r["ours_over_torch"]
        labels_.append(f"{r['dtype'][5:]} b{r['batch']} t{r['threads']}")
        values.append(s["median"])
        low.append(s["median"] - s["p10"])
        high.append(s["p90"] - s["median"])
if values:
    y = np.arange(len(values))
    axes[1].barh(y, values, xerr=[low, high], color="tab:blue", alpha=0.7)
    axes[1].axvline(0.5, color="tab:red", linestyle="--", label="goal 0.5")
    axes[1].axvline(1.0, color="grey", linewidth=0.8)
    axes[1].set(yticks=y, yticklabels=labels_, xlabel="ours / PyTorch (median, p10-p90)",
                title="time ratio per step (float bits, batch, threads)")
    axes[1].invert_yaxis()
    axes[1].legend()
fig.tight_layout()

# %% [markdown]
# ## Where the time goes
#
# Each phase of one step at batch 64, float32, timed alone (interleaved
# like the rest). Ours: the forward pass (whose largest part is the conv's
# banded matrix product), the loss, the backward pass (the kernel gradient's
# product) and the fused update. PyTorch: forward with the loss, backward
# (forward + backward minus forward), and an update of the same size.

# %%
prof = one["profile"]["phases"]
order = ["step", "forward", "conv_matmul", "loss", "backward", "kernel_grad_matmul", "update",
         "torch_step", "torch_forward", "torch_backward", "torch_update"]
rows = ["| phase | median, ms | share of its step |", "|---|---:|---:|"]
for key in order:
    if key in prof:
        total = prof["torch_step" if key.startswith("torch") else "step"]["median"]
        rows.append(f"| `{key}` | {ms(prof[key]['median'])} | "
                    f"{100 * prof[key]['median'] / total:.0f}% |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## Against the loops, and the layers alone
#
# The loop reference is the same step written with the layers of
# `cnn/reference.py` (one Python loop per index), on a batch of one or two
# images, against ours at batch 64, both per image.

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
    c = r["case"]
    name = (f"`conv2d` x{tuple(c['x'])} w{tuple(c['w'])} stride {c['stride']} "
            f"padding {c['padding']}" if c["layer"] == "conv2d" else
            f"`max_pool2d` x{tuple(c['x'])} size {c['size']} stride {c['stride']}")
    t = r["impl"].get("torch")
    rows.append(f"| {name} | {ms(r['impl']['ours']['seconds']['median'])} | "
                f"{ms(t['seconds']['median']) if t else '-'} | "
                f"{spread(r['ours_over_torch']) if t else '-'} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## The rest of the project
#
# Deriving and exporting every formula (`python -m derivations`, in a fresh
# interpreter, into a temporary directory) and, when the run was asked for
# it, building this site (`mkdocs build --strict`, notebooks executed).

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
