"""The benchmark's targets, its one summary table, and the plain-text report of a record."""

from __future__ import annotations

import operator

import numpy as np

from .layers import LAYER_CASES, describe

__all__ = ["TARGETS", "target_rows", "summarise", "format_targets", "format_report"]

_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt}

#: (key, label, comparison, goal) of each row of the summary table; the ratios are
#: ours / PyTorch at batch 64, float32, on the run's first thread count unless named.
TARGETS = [
    ("composed", "step from the public functional API / PyTorch", "<=", 0.6),
    ("train", "step cnn.train takes / PyTorch", "<=", 0.45),
    *((f"layer {describe(c)}", f"{describe(c)} fwd+bwd / PyTorch", "<=", 1.0)
      for c in LAYER_CASES),
    ("train_2_threads", "step cnn.train takes / PyTorch, 2 threads", "<=", 0.6),
    ("loops_over_ours", "loop reference / cnn.train's step, per image", ">=", 1000.0),
    ("epoch_seconds", "epoch of 60,000 images through cnn.train, s", "<", 2.0),
]


def target_rows() -> list:
    """:data:`TARGETS` as JSON-able dicts (for the record)."""
    return [{"key": k, "label": label, "op": op, "goal": goal} for k, label, op, goal in TARGETS]


def _step_ratio(one: dict, threads: int, name: str):
    for row in one["mnist_step"]:
        if (row["threads"], row["dtype"], row["batch"]) == (threads, "float32", 64):
            return row.get(f"{name}_over_torch", {}).get("median")
    return None


def _values(record: dict, one: dict) -> dict:
    """Each target's measured value in one run (None where it was not measured)."""
    first = record["threads"][0]
    loops = next(x for x in one["loops"] if x["dtype"] == "float32")
    values = {"composed": _step_ratio(one, first, "composed"),
              "train": _step_ratio(one, first, "train"),
              "train_2_threads": _step_ratio(one, 2, "train"),
              "loops_over_ours": loops["loops_over_ours"]["median"],
              "epoch_seconds": one["epoch"]["train_epoch_s"]}
    for row in one["layers"]:
        values[f"layer {describe(row['case'])}"] = row.get("ours_over_torch", {}).get("median")
    return values


def summarise(record: dict) -> dict:
    """The one table: per target, the value in each run, their median/min/max, and met."""
    per_run = [_values(record, one) for one in record["runs"]]
    rows = []
    for key, label, op, goal in TARGETS:
        vals = [v[key] for v in per_run if v.get(key) is not None]
        row = {"key": key, "label": label, "op": op, "goal": goal, "runs": vals}
        if vals:
            median = float(np.median(vals))
            row.update(median=median, min=float(min(vals)), max=float(max(vals)),
                       met=bool(_OPS[op](median, goal)))
        rows.append(row)
    return {"threads": record["threads"][0], "dtype": "float32", "batch": 64,
            "repeats": len(per_run), "rows": rows}


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3f}"


def format_targets(summary: dict) -> list:
    """The summary table as text lines, a missed target marked ``MISSED``."""
    width = max(len(r["label"]) for r in summary["rows"])
    lines = [f"Targets (batch 64, float32, {summary['threads']} thread unless named; median "
             f"over {summary['repeats']} run(s) [min-max]):",
             f"  {'measure':<{width}} {'value':>8} {'[min-max]':>15}  {'target':>9}"]
    for r in summary["rows"]:
        if "median" not in r:
            lines.append(f"  {r['label']:<{width}} {'not measured':>8}")
            continue
        spread = f"[{_number(r['min'])}-{_number(r['max'])}]"
        goal = f"{r['op']} {r['goal']:g}"
        lines.append(f"  {r['label']:<{width}} {_number(r['median']):>8} {spread:>15}  "
                     f"{goal:>9}  {'met' if r['met'] else 'MISSED'}")
    return lines


def _ms(impl: dict, name: str, full: bool = True) -> str:
    if name not in impl:
        return "-"
    s = impl[name]["seconds"]
    if not full:
        return f"{s['median'] * 1e3:.3f}"
    return f"{s['median'] * 1e3:.3f} [{s['p10'] * 1e3:.2f}-{s['p90'] * 1e3:.2f}]"


def _ratio(row: dict, name: str, full: bool = True) -> str:
    r = row.get(f"{name}_over_torch")
    if not r:
        return "-"
    return f"{r['median']:.2f} [{r['p10']:.2f}-{r['p90']:.2f}]" if full else f"{r['median']:.2f}"


def _step_lines(one: dict) -> list:
    lines = ["MNIST training step (forward + backward + SGD), median ms per step "
             "[p10-p90 over rounds]:",
             f"{'thr':>3} {'dtype':>7} {'batch':>5} | {'composed':>9} {'train':>21} "
             f"{'torch':>21} | {'composed/torch':>14} {'train/torch':>17}"]
    for row in one["mnist_step"]:
        im = row["impl"]
        lines.append(f"{row['threads']:>3} {row['dtype']:>7} {row['batch']:>5} | "
                     f"{_ms(im, 'composed', False):>9} {_ms(im, 'train'):>21} "
                     f"{_ms(im, 'torch'):>21} | {_ratio(row, 'composed', False):>14} "
                     f"{_ratio(row, 'train'):>17}")
    return lines


def _profile_lines(prof: dict) -> list:
    lines = [f"Profile at batch {prof['batch']}, {prof['dtype']}, median ms:"]
    for part in ("composed", "train", "torch"):
        if part in prof:
            lines.append(f"  {part:<9} " + ", ".join(f"{k} {v['median'] * 1e3:.3f}"
                                                    for k, v in prof[part].items()))
    return lines


def format_report(record: dict) -> str:
    """A plain-text report of a record: the targets table, then the first run's details."""
    one, m, v = record["runs"][0], record["machine"], record["versions"]
    lines = [f"{record['command']}", f"{m['cpu']}, {m['logical_cpus']} logical CPUs; numpy "
             f"{v['numpy']} ({'; '.join(v['blas'])}), torch {v['torch']}, python {v['python']}"
             + ("  [--quick]" if record["quick"] else ""), ""]
    lines += format_targets(record["summary"]) + [""] + _step_lines(one)
    peaks = ", ".join(f"{t} thread(s): {p['float32']['gflops']:.0f} (float32) / "
                      f"{p['float64']['gflops']:.0f} (float64)"
                      for t, p in one["gemm_peak"].items())
    lines += [f"GEMM peak, GFLOP/s: {peaks}", "", "Layers alone, forward + backward, float32:"]
    for row in one["layers"]:
        t = row["impl"].get("torch")
        ours = row["impl"]["ours"]["seconds"]["median"]
        lines.append(f"  {row['name']:<48} ours {ours * 1e3:7.3f} ms"
                     + (f"  torch {t['seconds']['median'] * 1e3:7.3f} ms" if t else ""))
    lines += [""] + _profile_lines(one["profile"]) + [""]
    for row in one["loops"]:
        lines.append(f"Loops ({row['dtype']}): {row['loops_per_image_s']['median'] * 1e3:.1f} ms "
                     f"per image (batch {row['loop_batch']}), ours "
                     f"{row['ours_per_image_s']['median'] * 1e6:.1f} us (batch 64)")
    e = one["epoch"]
    lines.append(f"Epoch ({e['images']} images of {e['data']}, batch 64, float32) through "
                 f"cnn.train: {e['train_stats']['median']:.2f} s"
                 + (f"; test accuracy after it {e['test_accuracy_after_one_epoch']:.4f}"
                    if "test_accuracy_after_one_epoch" in e else ""))
    if "derivations" in record:
        d = record["derivations"]
        lines.append(f"Derive + export all formulas: {d['seconds']:.1f} s"
                     + ("" if d["ok"] else " (FAILED)"))
    if "docs_build" in record:
        b = record["docs_build"]
        lines.append(f"mkdocs build --strict: {b['seconds']:.1f} s"
                     + ("" if b["ok"] else " (FAILED)"))
    return "\n".join(lines)
