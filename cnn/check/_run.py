"""Run a user's function on the probes, safely, and compare with the right answers.

The user's function runs in a daemon thread with a time limit per probe, on
fresh copies of the probe's arrays; every exception it raises is caught and
reported with its type, message and probe (no traceback). Afterwards the
copies are compared with the originals (a backward function must not modify
its inputs), and the results are checked for their number, type, dtype and
shape before any value is compared.
"""

from __future__ import annotations

import inspect
import math
import threading
from dataclasses import dataclass, field

import numpy as np

from . import catalogue
from ._targets import Probe, Target
from .adapters import Adapter
from .report import Report

#: A probe passes when every output's max-norm relative error is at most this.
TOLERANCE = 1e-9
#: A catalogue entry matches when its wrong output is this close on every probe.
MATCH_TOLERANCE = 1e-9
#: The first probe's time limit is this many times the per-probe limit.
FIRST_CALL_FACTOR = 5


@dataclass
class Result:
    """What one probe gave."""

    probe: Probe
    right: tuple
    outputs: tuple | None = None       # in the library's convention, checked
    errors: tuple = ()                 # relative error per output (inf: wrong shape)
    problem: str | None = None         # raised, wrong type, ... (outputs is None then)
    fatal: bool = False                # a hang or modified inputs: stop probing
    ok: bool = False


@dataclass
class Plan:
    accepted: set | None               # keyword options the function takes (None: unknown)
    skipped: list = field(default_factory=list)


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def plan_calls(fn, target: Target) -> Plan:
    """Check ``fn`` is callable with the target's arguments; TypeError naming it if not."""
    if not callable(fn):
        text = repr(fn)
        text = text if len(text) <= 60 else text[:57] + "..."
        raise TypeError(f"fn: got {type(fn).__name__} {text}, which is not callable; expected "
                        f"a function {target.signature}")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return Plan(None)                # a builtin without a signature: just call it
    positional = [None] * len(target.arg_names)
    try:
        sig.bind(*positional)
    except TypeError as exc:
        raise TypeError(f"fn: {_name(fn)}{sig} cannot be called as {target.signature} "
                        f"({exc})") from None
    accepted = set()
    for key in target.defaults:
        try:
            sig.bind(*positional, **{key: target.defaults[key]})
            accepted.add(key)
        except TypeError:
            pass
    return Plan(accepted)


def call_with_timeout(fn, args, kwargs, timeout: float):
    """``("value", v)``, ``("raised", exc)`` or ``("timeout", None)``."""
    box = {}

    def run():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001  SystemExit too: reported, not obeyed
            box["error"] = exc

    worker = threading.Thread(target=run, name="cnn.check probe", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return "timeout", None
    if "error" in box:
        return "raised", box["error"]
    return "value", box["value"]


def _copy(a):
    return a.copy() if isinstance(a, np.ndarray) else a


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    return a == b


def _kind(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype}, shape {value.shape}"
    return f"a {type(value).__name__}"


def _check_output(target: Target, name: str, value):
    """``(array, None)`` or ``(None, problem)`` for one returned value."""
    if name in target.scalar_outputs:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (float, np.floating,
                                                                          np.ndarray)):
            return None, f"returned {_kind(value)} as {name}; expected a float64 scalar"
        arr = np.asarray(value)
        if arr.ndim != 0:
            return None, f"returned {_kind(value)} as {name}; expected a scalar (0-D)"
    else:
        if not isinstance(value, np.ndarray):
            return None, f"returned {_kind(value)} as {name}; expected a NumPy array"
        arr = value
    if arr.dtype != np.float64:
        return None, (f"returned {name} with dtype {arr.dtype}; expected float64, the dtype "
                      f"of the probes (convert with .astype(np.float64))")
    return arr, None


def relative_error(u: np.ndarray, r: np.ndarray) -> float:
    """Max-norm relative error ``max|u - r| / max|r|`` (inf for another shape or non-finite)."""
    u, r = np.asarray(u, dtype=float), np.asarray(r, dtype=float)
    if u.shape != r.shape or not np.all(np.isfinite(u)):
        return math.inf
    if u.size == 0:
        return 0.0
    scale = float(np.max(np.abs(r)))
    return float(np.max(np.abs(u - r))) / (scale if scale > 0 else 1.0)


def run_probe(fn, target: Target, probe: Probe, kwargs: dict, adapters: list[Adapter],
              timeout: float) -> Result:
    right = target.right(probe)
    res = Result(probe, right)
    args, kw = probe.args, dict(kwargs)
    for a in adapters:
        args, kw = a.to_user(args, kw)
    passed = tuple(_copy(a) for a in args)
    status, value = call_with_timeout(fn, passed, kw, timeout)
    if status == "timeout":
        res.problem, res.fatal = f"did not return within {timeout:g} s", True
        return res
    if status == "raised":
        text = str(value).strip().splitlines()
        res.problem = f"raised {type(value).__name__}" + (f": {text[0]}" if text else "")
        return res
    for name, before, after in zip(target.arg_names, args, passed):
        if not _same(before, after):
            res.problem = (f"modified its input {name}; a backward function must not change "
                           f"its arguments (work on a copy)")
            res.fatal = True
            return res
    n = len(target.outputs)
    if n == 1:
        if isinstance(value, (tuple, list)):
            res.problem = (f"returned a {type(value).__name__} of {len(value)}; expected one "
                           f"array, {target.outputs[0]}")
            return res
        value = (value,)
    elif not isinstance(value, (tuple, list)) or len(value) != n:
        what = (f"a {type(value).__name__} of {len(value)}" if isinstance(value, (tuple, list))
                else _kind(value))
        res.problem = f"returned {what}; expected a tuple of {n}: ({', '.join(target.outputs)})"
        return res
    for a in reversed(adapters):
        value = a.from_user(tuple(value), probe.args)
    outputs = []
    for name, v in zip(target.outputs, value):
        arr, problem = _check_output(target, name, v)
        if problem:
            res.problem = problem
            return res
        outputs.append(arr)
    res.outputs = tuple(outputs)
    res.errors = tuple(relative_error(u, np.asarray(r)) for u, r in zip(outputs, right))
    res.ok = all(e <= TOLERANCE for e in res.errors)
    return res


def _matches(mistake, target: Target, results: list[Result]) -> bool:
    """The user's outputs equal the mistake's on every probe where it is defined,
    and differ from the right ones on at least one of them."""
    defined = wrong_somewhere = 0
    for res in results:
        wrong = mistake.wrong[target.name](res.probe, res.right)
        if wrong is None:
            continue
        defined += 1
        if res.outputs is None:
            return False
        if any(relative_error(u, np.asarray(w)) > MATCH_TOLERANCE
               for u, w in zip(res.outputs, wrong)):
            return False
        wrong_somewhere += not res.ok
    return defined > 0 and wrong_somewhere > 0


def diagnose(target: Target, results: list[Result]) -> list[str]:
    """Every catalogue key whose mistake the results match (at most one, by design)."""
    return [m.key for m in catalogue.for_target(target.name) if _matches(m, target, results)]


def _detail(target: Target, res: Result) -> str:
    if res.problem:
        return f"{res.problem} on probe {res.probe.description}"
    bad = [f"{n} (relative error {'inf, wrong shape' if math.isinf(e) else f'{e:.3g}'})"
           for n, e in zip(target.outputs, res.errors) if e > TOLERANCE]
    good = [n for n, e in zip(target.outputs, res.errors) if e <= TOLERANCE]
    text = "wrong " + ", ".join(bad)
    if any(math.isinf(e) for e in res.errors):
        shapes = [f"{n} {np.shape(u)} (expected {np.shape(r)})" for n, u, r, e
                  in zip(target.outputs, res.outputs, res.right, res.errors) if math.isinf(e)
                  and np.shape(u) != np.shape(r)]
        if shapes:
            text += "; shapes: " + ", ".join(shapes)
    return text + (f"; right: {', '.join(good)}" if good else "")


def report(fn, target: Target, results: list[Result], plan: Plan) -> Report:
    errors = [e for r in results for e in r.errors]
    worst = max(errors) if errors else None
    notes = []
    if plan.skipped:
        missing = sorted(set(target.defaults) - (plan.accepted or set()))
        notes.append(f"{_name(fn)} takes no {', '.join(missing)} argument: "
                     f"{len(plan.skipped)} probe(s) that need it were skipped")
    failed = next((r for r in results if not r.ok), None)
    if failed is None:
        return Report(target.name, True, None, None, None, worst, None,
                      f"Matches the library on all {len(results)} probes.", len(results), notes)
    keys = [] if failed.fatal else diagnose(target, results)
    diagnosis = keys[0] if len(keys) == 1 else None
    message = f"{_name(fn)}: {_detail(target, failed)}."
    if diagnosis:
        mistake = next(m for m in catalogue.CATALOGUE if m.key == diagnosis)
        return Report(target.name, False, diagnosis, mistake.sentence, mistake.page, worst,
                      failed.probe.description, message, len(results), notes)
    if len(keys) > 1:
        notes.append(f"matches several catalogue entries ({', '.join(keys)}); the probes "
                     f"should tell them apart: please report this")
    return Report(target.name, False, None, None, target.page, worst,
                  failed.probe.description, message, len(results), notes,
                  catalogue_checked=not failed.fatal)


def run(fn, target: Target, adapters: list[Adapter], timeout: float) -> Report:
    plan = plan_calls(fn, target)
    results = []
    for probe in target.probes():
        kwargs = dict(probe.kwargs)
        if plan.accepted is not None:
            missing = [k for k in kwargs if k not in plan.accepted]
            if any(kwargs[k] != target.defaults[k] for k in missing):
                plan.skipped.append(probe.description)
                continue
            for k in missing:
                del kwargs[k]
        # The first call may import modules or warm up (scipy.signal takes ~1 s): it
        # gets FIRST_CALL_FACTOR times the limit.
        limit = timeout * (FIRST_CALL_FACTOR if not results else 1)
        res = run_probe(fn, target, probe, kwargs, adapters, limit)
        results.append(res)
        if res.fatal:
            break
    return report(fn, target, results, plan)
