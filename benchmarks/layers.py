"""Forward + backward of single layers against PyTorch, at the shapes of the targets."""

from __future__ import annotations

import numpy as np

from cnn import conv2d, conv2d_backward, max_pool2d, max_pool2d_backward

from .timing import interleaved, ratio_stats, stats, torch_or_none

__all__ = ["LAYER_CASES", "describe", "layer_fns", "layers"]

#: The seed-003 conv and pool, a padded multi-channel conv, and the two shapes
#: of the issue's layer target: a stride-2 8->16-channel conv and 3x3 overlapping pooling.
LAYER_CASES = [
    {"layer": "conv2d", "x": (64, 1, 28, 28), "w": (2, 1, 5, 5), "stride": 1, "padding": 0},
    {"layer": "conv2d", "x": (64, 2, 12, 12), "w": (4, 2, 3, 3), "stride": 1, "padding": 1},
    {"layer": "conv2d", "x": (32, 8, 16, 16), "w": (16, 8, 3, 3), "stride": 2, "padding": 1},
    {"layer": "max_pool2d", "x": (64, 2, 24, 24), "size": 2, "stride": 2},
    {"layer": "max_pool2d", "x": (32, 16, 16, 16), "size": 3, "stride": 2},
]


def describe(case: dict) -> str:
    """A short name of a layer case, e.g. ``conv2d x(32, 8, 16, 16) w(16, 8, 3, 3) s2 p1``."""
    if case["layer"] == "conv2d":
        return (f"conv2d x{tuple(case['x'])} w{tuple(case['w'])} s{case['stride']} "
                f"p{case['padding']}")
    return f"max_pool2d x{tuple(case['x'])} k{case['size']} s{case['stride']}"


def layer_fns(case: dict) -> dict:
    """``{"ours": f, "torch": g}``: one forward + backward of the case's layer each
    (every gradient, the input's included, as PyTorch computes with ``requires_grad``).

    Our forward hands its backward what it computed (``cache=``), as PyTorch's
    autograd keeps the tensors its backward needs: both do the work of one
    training step's layer, nothing computed twice."""
    torch = torch_or_none()
    rng = np.random.default_rng(1)
    x = rng.standard_normal(case["x"]).astype(np.float32)
    fns = {}
    if case["layer"] == "conv2d":
        w = rng.standard_normal(case["w"]).astype(np.float32)
        b = rng.standard_normal(case["w"][0]).astype(np.float32)
        kw = {"stride": case["stride"], "padding": case["padding"]}
        dy = rng.standard_normal(conv2d(x, w, b, **kw).shape).astype(np.float32)

        def ours():
            cache = {}
            conv2d(x, w, b, cache=cache, **kw)
            conv2d_backward(dy, x, w, cache=cache, **kw)
        if torch:
            import torch.nn.functional as F
            xt, wt, bt = (torch.tensor(a).requires_grad_() for a in (x, w, b))
            dyt = torch.tensor(dy)

            def theirs():
                F.conv2d(xt, wt, bt, **kw).backward(dyt)
                xt.grad = wt.grad = bt.grad = None
    else:
        kw = {"size": case["size"], "stride": case["stride"]}
        dy = rng.standard_normal(max_pool2d(x, **kw).shape).astype(np.float32)

        def ours():
            cache = {}
            max_pool2d(x, cache=cache, **kw)
            max_pool2d_backward(dy, x, cache=cache, **kw)
        if torch:
            import torch.nn.functional as F
            xt, dyt = torch.tensor(x).requires_grad_(), torch.tensor(dy)

            def theirs():
                F.max_pool2d(xt, case["size"], case["stride"]).backward(dyt)
                xt.grad = None
    fns["ours"] = ours
    if torch:
        fns["torch"] = theirs
    return fns


def layers(cfg: dict) -> list:
    """One row per :data:`LAYER_CASES` entry: times of ours and PyTorch's, and their ratio."""
    out = []
    for case in LAYER_CASES:
        times = interleaved(layer_fns(case), cfg["rounds"], cfg["reps"], cfg["warmup"])
        row = {"case": case, "name": describe(case), "dtype": "float32",
               "impl": {k: {"seconds": stats(v)} for k, v in times.items()}}
        if "torch" in times:
            row["ours_over_torch"] = ratio_stats(times["ours"], times["torch"])
        out.append(row)
    return out
