"""Exercises for the page "Check your own back-prop" (docs/check.md).

One exercise per catalogue entry (named by its key): a tiny input on which the
mistake and the right formula differ, the question "what does code with this
mistake return?", and the answer computed at build time by the catalogue's own
construction of the mistake (cnn/check/catalogue.py) next to the library's
right output. Then the exercises that ask the reader to write a backward
function and run the checker; their answers run the checker on a solution.

An entry's sentence is a message of the ``exercises`` catalogue too (the
Chinese page shows it translated); the checker's own reports, shown as code,
stay as the checker prints them.
"""

from __future__ import annotations

import numpy as np

import cnn
import cnn.check
from cnn.check._targets import TARGETS, Probe
from docs.exercises import Exercise, _, array_md, listing

def _target_title(target: str) -> str:
    """How a question names a checkable function: its name, or in words for the toy net's."""
    return _("the toy net's `gradients`") if target == "toy_gradients" else f"`{target}`"


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
    shape = _("`%(name)s`, of shape %(shape)s:", name=name, shape=a.shape)
    if a.ndim == 4:                 # every image and channel: answers sum over the batch
        return shape + "\n\n" + "\n\n".join(
            _("`%(name)s[%(n)s, %(c)s]`:", name=name, n=n, c=c) + "\n\n" + array_md(a[n, c], 3)
            for n in range(a.shape[0]) for c in range(a.shape[1]))
    return shape + "\n\n" + array_md(a, 3)


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
    options = ", ".join(f"{k}={v}" for k, v in probe.kwargs.items())   # code: not a listing
    others = [_target_title(x) for x in m.targets[1:]]
    applies = (_("%(target)s (also %(others)s)", target=_target_title(target),
                 others=listing(others)) if others else _target_title(target))
    names = listing(f"`{t.outputs[i]}`" for i in differ)
    ask = (_("On this input (%(options)s), what does code with this mistake return for "
             "%(outputs)s?", options=options, outputs=names) if options else
           _("On this input, what does code with this mistake return for %(outputs)s?",
             outputs=names))
    question = "\n\n".join([_(m.sentence),
                             _("Applies to %(targets)s. Read [the right formula](%(page)s).",
                               targets=applies, page=m.page), ask, inputs])
    answer = []
    for i in differ:
        answer.append(_("Right: %(right)s\n\nWith the mistake: %(wrong)s",
                        right=_show(t.outputs[i], right[i]), wrong=_show(t.outputs[i], wrong[i])))
    same = [t.outputs[i] for i in range(len(right)) if i not in differ]
    if same:
        answer.append(_("%(outputs)s: unchanged.", outputs=listing(f"`{n}`" for n in same)))
    answer.append(_("`cnn.check` names this mistake `%(key)s` when a function's outputs equal "
                    "these on every probe.", key=key))
    return Exercise(_("predict what %(key)s returns", key=key), question, "\n\n".join(answer))


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
    command = "```bash\ncnn check conv2d_backward conv2d_backward_starter.py:conv2d_backward\n```"
    return Exercise(
        _("write conv2d_backward and check it"),
        _("Download the starter file [conv2d_backward_starter.py]"
          "(downloads/check/conv2d_backward_starter.py), fill in the three gradients (loops are "
          "fine: the checker's probes are small), and run\n\n%(command)s\n\nUntil you have "
          "filled it in, the checker reports the `NotImplementedError`. Then make one "
          "deliberate mistake (rotate `dw`, forget to crop the padding, drop the stride) and "
          "check that the report names it.", command=command),
        _("A right solution's report (here the library's own function, checked when this page "
          "was built):\n\n%(report)s\n\nIf yours says WRONG with no known mistake, look at "
          "which outputs the report lists as wrong and at the first failing probe: stride 2 or "
          "padding 1 in it points at the dilation or the crop.",
          report=_solution_report("conv2d_backward", solution)))


def write_max_pool2d_backward() -> Exercise:
    command = ("```bash\ncnn check max_pool2d_backward "
               "max_pool2d_backward_starter.py:max_pool2d_backward\n```")
    return Exercise(
        _("write max_pool2d_backward and check it"),
        _("Download [max_pool2d_backward_starter.py]"
          "(downloads/check/max_pool2d_backward_starter.py), route each window's gradient to "
          "its maximum (on ties: to the first maximum in row-major order), and run\n\n"
          "%(command)s\n\nWhich catalogue entry do you get if you write `+=` as `=` for "
          "windows that overlap?", command=command),
        _("The library's function passes:\n\n%(report)s\n\nWriting each window's slice with "
          "`=` gives `pool_overlap_overwritten`: it shows only on the probes with stride < size, "
          "where windows share pixels.",
          report=_solution_report("max_pool2d_backward", cnn.max_pool2d_backward)))


def diagnose_the_seed() -> Exercise:
    def seed_first(image, label, kernel, weights, *, padding=0):
        return cnn.toy_net.gradients(image, label, kernel, weights, padding=padding,
                                     variant="seed_original")
    return Exercise(
        _("diagnose seed 004's first kernel gradient"),
        _("Seed 004's first code computed the toy net's kernel gradient as "
          "`convolve2d(x, rot180(delta), 'valid')`; `cnn.toy_net.gradients(..., "
          "variant=\"seed_original\")` does the same. Check it with "
          "`cnn.check.toy_gradients` (wrap it so that it takes `padding` only) and predict the "
          "diagnosis before you run it."),
        _solution_report("toy_gradients", seed_first) + "\n\n"
        + _("On the seed's own data this mistake never showed, because tanh was saturated; the "
            "checker's probes are unsaturated and asymmetric."))
