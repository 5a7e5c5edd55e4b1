"""A tracer that finds float64 in a float32 run (see ``tests/test_float32.py``).

After every line executed in the ``cnn`` package it inspects every local
variable of the running ``cnn`` function, including arrays inside dicts,
tuples and ``cnn`` objects such as a network's buffers, and records every
float array or NumPy float scalar that is not float32. (A float64 temporary
cast back within a single expression, ``(x * np.float64(2)).astype(np.float32)``,
has no name and is not seen; named intermediates, buffers, returned values
and gradients are.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import cnn

__all__ = ["CNN_DIR", "float_promotions", "assert_float32_only"]

CNN_DIR = str(Path(cnn.__file__).resolve().parent)


def _scan(value, where: str, name: str, found: list, seen: set, depth: int = 0) -> None:
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind == "f" and value.dtype != np.float32:
            found.append((where, name, str(value.dtype)))
        return
    if depth >= 3 or id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, dict):
        for key, item in value.items():
            _scan(item, where, f"{name}[{key!r}]", found, seen, depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _scan(item, where, f"{name}[{i}]", found, seen, depth + 1)
    elif type(value).__module__.startswith("cnn") and hasattr(value, "__dict__"):
        for key, item in vars(value).items():
            _scan(item, where, f"{name}.{key}", found, seen, depth + 1)


def float_promotions(fn, *args, roots=(CNN_DIR,), **kwargs):
    """Run ``fn(*args, **kwargs)``; return ``(result, found)``.

    ``found`` lists ``(function:line, variable, dtype)`` for every non-float32
    float array or scalar held by a local variable of a function defined under
    ``roots``, looked at after each line and on return (the return value too).
    """
    found: list = []

    def local_tracer(frame, event, arg):
        if event in ("line", "return"):
            where = f"{frame.f_code.co_qualname}:{frame.f_lineno}"
            seen: set = set()
            for name, value in frame.f_locals.items():
                _scan(value, where, name, found, seen)
            if event == "return":
                _scan(arg, where, "<returned>", found, seen)
        return local_tracer

    def tracer(frame, event, arg):
        if frame.f_code.co_filename.startswith(roots):
            return local_tracer
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.settrace(previous)
    _scan(result, getattr(fn, "__qualname__", repr(fn)), "<result>", found, set())
    return result, sorted(set(found))


def assert_float32_only(fn, *args, **kwargs):
    result, found = float_promotions(fn, *args, **kwargs)
    assert not found, f"float64 in a float32 run: {found[:10]}"
    return result
