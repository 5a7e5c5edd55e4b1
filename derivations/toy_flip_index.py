"""The toy net's flip in index form, for every image size n, kernel size k and padding p.

The toy net's layer 1 is a TRUE convolution (kernel flipped) of the padded
image x_p ((n + 2p) x (n + 2p)) with the k x k kernel K, giving m x m nodes,
m = n + 2p - k + 1; with the deltas delta = dL/dz1 held fixed (z1 is linear in
K), ``sympy.diff`` of sum delta z1 is the kernel gradient. Proven equal, for
symbolic n, k, p, to conv(rot180(x_p), delta) and to rot180(corr(x_p, delta))
(:mod:`derivations.index_sums`), then instantiated at the toy net's cases.
Used by :mod:`derivations.conv2d_index`, whose export holds the fact.
"""

from __future__ import annotations

import itertools

import sympy as sp

from . import toy_net
from .index_sums import instantiate, same
from .proof import Checks

pos = dict(integer=True, positive=True)
p = sp.Symbol("p", integer=True, nonnegative=True)
i, j, a = sp.symbols("i j a", integer=True, nonnegative=True)
a_ = sp.Symbol("a'", integer=True, nonnegative=True)
xp = sp.IndexedBase("x^p", real=True)


tn, tk = sp.symbols("n k", **pos)           # image n x n, kernel k x k
P, M = tn + 2 * p, tn + 2 * p - tk + 1       # padded size, layer-1 nodes per side
K, d = sp.IndexedBase("K", real=True), sp.IndexedBase(r"\delta", real=True)
b_ = sp.Symbol("b'", integer=True, nonnegative=True)
bb = sp.Symbol("b", integer=True, nonnegative=True)
BOX_K = {a_: (0, tk - 1), b_: (0, tk - 1)}


def toy_claims() -> dict[str, sp.Expr]:
    rot_xp = lambda r, t: xp[P - 1 - r, P - 1 - t]  # noqa: E731
    conv = lambda A, B, r, t: sp.Sum(A(r + M - 1 - i, t + M - 1 - j) * B(i, j),  # noqa: E731
                                     (j, 0, M - 1), (i, 0, M - 1))
    return {
        "conv(rot180(x_p), delta)": conv(rot_xp, lambda r, t: d[r, t], a_, b_),
        "rot180(corr(x_p, delta))": sp.Sum(xp[tk - 1 - a_ + i, tk - 1 - b_ + j] * d[i, j],
                                           (j, 0, M - 1), (i, 0, M - 1)),
        # the seed's transposed variant, conv(x_p, rot180(delta))^T: must differ
        "seed transposed": conv(lambda r, t: xp[r, t], lambda r, t: d[M - 1 - r, M - 1 - t],
                                b_, a_),
    }


def prove_toy(checks: Checks, cl: dict | None = None) -> sp.Expr:
    cl = toy_claims() if cl is None else cl
    z1 = sp.Sum(xp[i + tk - 1 - a, j + tk - 1 - bb] * K[a, bb], (bb, 0, tk - 1), (a, 0, tk - 1))
    raw = sp.diff(sp.Sum(d[i, j] * z1, (j, 0, M - 1), (i, 0, M - 1)), K[a_, b_])
    for name in ("conv(rot180(x_p), delta)", "rot180(corr(x_p, delta))"):
        checks(f"toy: dL/dK = {name}", same(raw, cl[name], BOX_K))
    return raw


def bridge_toy(checks: Checks, raw: sp.Expr, cl: dict, name: str, nn: int, kk: int, pp: int):
    net = toy_net.ToyNet(nn, kk, pp)
    target = net.chain_kernel_gradient()
    arrays = {"x^p": lambda r, t: net.xp[r, t], r"\delta": lambda r, t: net.delta_sym[r, t]}
    at = lambda e, aa, bv: instantiate(e, {tn: nn, tk: kk, p: pp, a_: aa, b_: bv}, arrays)  # noqa: E731
    grid = list(itertools.product(range(kk), repeat=2))
    for form in ("conv(rot180(x_p), delta)", "rot180(corr(x_p, delta))"):
        checks(f"toy: instance {name} ({form})",
               all(sp.expand(at(cl[form], aa, bv) - target[aa, bv]) == 0 for aa, bv in grid))
    checks(f"toy: instance {name} (sympy.diff)",
           all(sp.expand(at(raw, aa, bv) - target[aa, bv]) == 0 for aa, bv in grid))
    if kk > 1:
        checks(f"toy: seed transposed differs at {name}", not all(
            sp.expand(at(cl["seed transposed"], aa, bv) - target[aa, bv]) == 0
            for aa, bv in grid))


def prove_and_instantiate(checks: Checks) -> tuple[dict[str, sp.Expr], list[str]]:
    """The flip proven for every size and instantiated at each toy_net case: (claims, where)."""
    cl = toy_claims()
    raw = prove_toy(checks, cl)
    where = []
    for name, nn, kk, pp in toy_net.CASES:
        bridge_toy(checks, raw, cl, name, nn, kk, pp)
        where.append(f"toy_net/{name}: n={nn} k={kk} p={pp}")
    return cl, where
