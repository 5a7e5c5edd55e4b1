"""Exercises for the page "Check your own back-prop" (docs/check.md).

One exercise per catalogue entry (named by its key): a tiny input on which the
mistake and the right formula differ, the question "what does code with this
mistake return?", and the answer computed at build time by the catalogue's own
construction of the mistake (cnn/check/catalogue.py) next to the library's
right output. Then the exercises that ask the reader to write a backward
function and run the checker; their answers run the checker on a solution.
"""

from __future__ import annotations

import numpy as np

import cnn
import cnn.check
from cnn.check._targets import TARGETS, Probe
from docs.exercises import Exercise, array_md

_TARGET_TITLES = {
    "conv2d_backward": "`conv2d_backward`", "max_pool2d_backward": "`max_pool2d_backward`",
    "dense_backward": "`dense_backward`", "softmax_cross_entropy": "`softmax_cross_entropy`",
    "l2_loss": "`l2_loss`", "toy_gradients": "the toy net's `gradients`",
}


def _ints(shape, seed, low=-2, high=3):
    return np.random.default_rng(seed).integers(low, high, shape).astype(float)


def _tiny_probes(target: str) -> list[Probe]:
    """Small integer inputs, easy to read, generic enough to tell each mistake apart."""
    if target == "conv2d_backward":
        out = []
        for s, p, kh, kw in ((1, 0, 2, 2), (2, 1, 2, 2), (1, 1, 2, 3)):
            x, w = _ints((2, 1, 4, 4), 1), _ints((1, 1, kh, kw), 2)
            oh, ow = (4 + 2 * p - kh) // s + 1, (4 + 2 * p - kw) // s + 1
            out.append(Probe((_ints((2, 1, oh, ow), 3), x, w), {"stride": s, "padding": p},
                             f"stride {s}, padding {p}", {"N": 2}))
        return out
    if target == "max_pool2d_backward":
        rng = np.random.default_rng(4)
        distinct = np.array([[[[3, 9, 1, 4], [7, 2, 8, 0], [5, 6, 12, 10],
                               [15, 11, 13, 14]]]], float)
        ties = np.array([[[[1, 1, 0, 2], [0, 1, 2, 2], [3, 0, 1, 0], [3, 3, 0, 1]]]], float)
        overlap = rng.permutation(9).reshape(1, 1, 3, 3).astype(float)
        return [Probe((_ints((1, 1, 2, 2), 5, 1, 5), distinct), {"size": 2, "stride": 2},
                      "2x2 windows, stride 2", {"N": 1, "ties": False}),
                Probe((_ints((1, 1, 2, 2), 5, 1, 5), ties), {"size": 2, "stride": 2},
                      "2x2 windows, stride 2, tied maxima", {"N": 1, "ties": True}),
                Probe((_ints((1, 1, 2, 2), 6, 1, 5), overlap), {"size": 2, "stride": 1},
                      "2x2 windows, stride 1 (overlapping)", {"N": 1, "ties": False})]
    if target == "dense_backward":
        return [Probe((_ints((2, 3), 7), _ints((2, 2), 8), _ints((2, 3), 9)), {}, "", {"N": 2})]
    if target == "softmax_cross_entropy":
        return [Probe((np.array([[2.0, 0.0, -1.0], [0.5, 1.0, 0.0], [0.0, -1.0, 1.0]]),
                       np.array([0, 2, 2])), {}, "", {"N": 3})]
    if target == "l2_loss":
        return [Probe((np.array([[0.5, 1.0], [2.0, -1.0], [0.0, 1.5]]),
                       np.array([[1.0, 1.0], [1.0, 0.0], [0.5, 0.5]])), {}, "", {"N": 3})]
    if target == "toy_gradients":
        img = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [2.0, 1.0, 0.0]])
        return [Probe((img, 0.5, np.array([[0.5, -0.25], [0.1, 0.3]]),
                       np.array([[0.4], [-0.3], [0.2], [0.1]])), {"padding": 0}, "", {})]
    z = np.array([[-1.5, -0.5, 0.0], [0.5, 1.0, 2.0]])
    return [Probe((z,), {}, "", {"zeros": True})]


def _show(name, value) -> str:
    a = np.asarray(value)
    if a.ndim == 0:
        return f"`{name}` = {float(a):.4g}"
    if a.ndim == 4:                 # every image and channel: answers sum over the batch
        return f"`{name}`, of shape {a.shape}:\n\n" + "\n\n".join(
            f"`{name}[{n}, {c}]`:\n\n" + array_md(a[n, c], 3)
            for n in range(a.shape[0]) for c in range(a.shape[1]))
    return f"`{name}`, of shape {a.shape}:\n\n" + array_md(a, 3)


def _example(key: str) -> Exercise:
    m = cnn.check.mistake(key)
    target = m.targets[0]
    t = TARGETS[target]
    for probe in _tiny_probes(target):
        right = t.right(probe)
        wrong = m.wrong[target](probe, right)
        if wrong is None:
            continue
        differ = [i for i, (r, w) in enumerate(zip(right, wrong))
                  if np.shape(r) != np.shape(w) or not np.allclose(r, w, rtol=0, atol=1e-12)]
        if differ:
            break
    else:
        raise ValueError(f"no tiny example tells {key} apart on {target}")
    inputs = "\n\n".join(_show(n, a) for n, a in zip(t.arg_names, probe.args)
                         if isinstance(a, np.ndarray) or n == "label")
    options = ", ".join(f"{k}={v}" for k, v in probe.kwargs.items())
    others = [_TARGET_TITLES.get(x, f"`{x}`") for x in m.targets[1:]]
    applies = _TARGET_TITLES.get(target, f"`{target}`") + (
        f" (also {', '.join(others)})" if others else "")
    names = [t.outputs[i] for i in differ]
    question = (f"{m.sentence}\n\nApplies to {applies}. Read [the right formula]"
                f"({m.page}).\n\nOn this input{f' ({options})' if options else ''}, what does "
                f"code with this mistake return for {', '.join(f'`{n}`' for n in names)}?"
                f"\n\n{inputs}")
    answer = []
    for i in differ:
        answer.append("Right: " + _show(t.outputs[i], right[i]) + "\n\nWith the mistake: "
                      + _show(t.outputs[i], wrong[i]))
    same = [t.outputs[i] for i in range(len(right)) if i not in differ]
    if same:
        answer.append(f"{', '.join(f'`{n}`' for n in same)}: unchanged.")
    answer.append(f"`cnn.check` names this mistake `{key}` when a function's outputs equal "
                  f"these on every probe.")
    return Exercise(f"predict what {key} returns", question, "\n\n".join(answer))


def _make(key):
    def exercise() -> Exercise:
        return _example(key)
    exercise.__name__ = exercise.__qualname__ = key
    exercise.__doc__ = f"The tiny example of the catalogue entry {key}."
    return exercise


for _m in cnn.check.CATALOGUE:
    globals()[_m.key] = _make(_m.key)


# ----------------------------------------------------------------------------- write your own

def _solution_report(function, fn) -> str:
    return "```text\n" + str(cnn.check.check(function, fn)) + "\n```"


def write_conv2d_backward() -> Exercise:
    def solution(dy, x, w, *, stride=1, padding=0):
        return cnn.conv2d_backward(dy, x, w, stride=stride, padding=padding)
    return Exercise(
        "write conv2d_backward and check it",
        "Download the starter file [conv2d_backward_starter.py]"
        "(downloads/check/conv2d_backward_starter.py), fill in the three gradients (loops are "
        "fine: the checker's probes are small), and run\n\n"
        "```bash\ncnn check conv2d_backward conv2d_backward_starter.py:conv2d_backward\n```\n\n"
        "Until you have filled it in, the checker reports the `NotImplementedError`. Then make "
        "one deliberate mistake (rotate `dw`, forget to crop the padding, drop the stride) and "
        "check that the report names it.",
        "A right solution's report (here the library's own function, checked when this page "
        "was built):\n\n" + _solution_report("conv2d_backward", solution)
        + "\n\nIf yours says WRONG with no known mistake, look at which outputs the report "
        "lists as wrong and at the first failing probe: stride 2 or padding 1 in it points at "
        "the dilation or the crop.")


def write_max_pool2d_backward() -> Exercise:
    return Exercise(
        "write max_pool2d_backward and check it",
        "Download [max_pool2d_backward_starter.py](downloads/check/max_pool2d_backward_starter.py),"
        " route each window's gradient to its maximum (on ties: to the first maximum in "
        "row-major order), and run\n\n```bash\ncnn check max_pool2d_backward "
        "max_pool2d_backward_starter.py:max_pool2d_backward\n```\n\nWhich catalogue entry do "
        "you get if you write `+=` as `=` for windows that overlap?",
        "The library's function passes:\n\n"
        + _solution_report("max_pool2d_backward", cnn.max_pool2d_backward)
        + "\n\nWriting each window's slice with `=` gives `pool_overlap_overwritten`: it shows "
        "only on the probes with stride < size, where windows share pixels.")


def diagnose_the_seed() -> Exercise:
    def seed_first(image, label, kernel, weights, *, padding=0):
        return cnn.toy_net.gradients(image, label, kernel, weights, padding=padding,
                                     variant="seed_original")
    return Exercise(
        "diagnose seed 004's first kernel gradient",
        "Seed 004's first code computed the toy net's kernel gradient as "
        "`convolve2d(x, rot180(delta), 'valid')`; `cnn.toy_net.gradients(..., "
        "variant=\"seed_original\")` does the same. Check it with "
        "`cnn.check.toy_gradients` (wrap it so that it takes `padding` only) and predict the "
        "diagnosis before you run it.",
        _solution_report("toy_gradients", seed_first)
        + "\n\nOn the seed's own data this mistake never showed, because tanh was saturated; "
        "the checker's probes are unsaturated and asymmetric.")
