"""Multi-channel 2-D convolution (cross-correlation) with bias, padding and stride.

Forward, as the library and PyTorch compute it (no kernel flip), for input
``x`` (N, C, H, W), weights ``w`` (F, C, KH, KW), bias ``b`` (F,), zero
padding $p$ and stride $s$, with $x^p$ the zero-padded input:

$$y_{n,f,i,j} = b_f + \\sum_{c}\\sum_{a<KH}\\sum_{b<KW}
  w_{f,c,a,b}\\; x^p_{n,c,\\,s i + a,\\, s j + b},\\qquad
  OH = \\left\\lfloor \\frac{H + 2p - KH}{s} \\right\\rfloor + 1 .$$

The upstream gradient $G = \\partial L/\\partial y$ is a symbol per output
entry and $L = \\sum G \\odot y$: since y is linear in w, b and x, its
derivatives are exactly the chain rule's $\\sum G\\, \\partial y/\\partial(\\cdot)$.

Cases (N = 1, C = 2, F = 2, 4x4 input, 3x3 kernels, padding 1):
``stride1`` (4x4 output) and ``stride2`` (2x2 output). Each exports the
forward ``y[0,f,i,j]`` and ``dL/dw[f,c,a,b]``, ``dL/db[f]``,
``dL/dx[0,c,i,j]`` per element, in the symbols of x, w and G.

Identities proven (per entry, exactly, on both cases and on a grid of
single-channel sizes, strides, paddings and rectangular kernels):

* ``dw[f,c]`` is the valid cross-correlation of the padded input channel c
  with the upstream gradient of channel f, dilated by the stride (s - 1
  zeros between entries), keeping its first KH x KW entries;
* ``db[f]`` is the sum of the upstream gradient of channel f;
* ``dx[c]`` is the FULL convolution (true convolution, flipping the kernel)
  of the dilated upstream gradient with ``w[f,c]``, summed over the output
  channels f, cropped by the padding - equivalently the full
  cross-correlation with the 180-degree-rotated kernels. Flipping twice
  (a true convolution with the rotated kernel) is wrong.

Run ``python -m derivations.conv2d``.
"""

from __future__ import annotations

import itertools

import sympy as sp

from . import export
from .conv2d_chains import dw_chain, dx_chain, flip_chain
from .proof import Checks, Proof, expands_to_zero
# (the exported chains call pad, dilate, rot180 and correlate "the helpers of
# derivations/conv2d.py": these, imported here from the toolkit)
from .toolkit import (correlate, crop, dilate, full_convolve, full_correlate, pad, partial,
                      rot180, subject_main, symbol, symbol_matrix)

SUBJECT = "conv2d"

#: (name, N, C, F, H = W, KH = KW, padding, stride)
CASES = [
    ("stride1", 1, 2, 2, 4, 3, 1, 1),
    ("stride2", 1, 2, 2, 4, 3, 1, 2),
]

#: Single-channel sizes on which the identities are also proven:
#: (H, W, KH, KW, padding, stride). Rectangular, odd/even, strides that do and
#: do not divide H + 2p - KH.
IDENTITY_SIZES = [
    (h, w, kh, kw, p, s)
    for (h, w) in [(3, 3), (4, 5)]
    for (kh, kw) in [(1, 1), (2, 3), (3, 3)]
    for p in (0, 1, 2)
    for s in (1, 2, 3)
    if kh <= h + 2 * p and kw <= w + 2 * p
]

#: One more, with a batch of 2 and three output channels (sums over n and f):
#: (N, C, F, H, W, KH, KW, padding, stride)
BATCH_SIZE_CHECK = (2, 2, 3, 3, 4, 2, 3, 1, 2)


# --------------------------------------------------------------------------
# The layer on a symbolic instance
# --------------------------------------------------------------------------
class Conv2d:
    """Symbolic conv2d for one batch of N images; x, w, G as nested lists of Matrices."""

    def __init__(self, N: int, C: int, F: int, H: int, W: int, KH: int, KW: int,
                 padding: int, stride: int):
        self.N, self.C, self.F = N, C, F
        self.H, self.W, self.KH, self.KW = H, W, KH, KW
        self.p, self.s = padding, stride
        self.OH = (H + 2 * padding - KH) // stride + 1
        self.OW = (W + 2 * padding - KW) // stride + 1
        if self.OH < 1 or self.OW < 1:
            raise ValueError(f"kernel {KH}x{KW} does not fit {H}x{W} with padding {padding}")
        self.x = [[symbol_matrix("x", H, W, n, c) for c in range(C)]
                  for n in range(N)]
        self.w = [[symbol_matrix("w", KH, KW, f, c) for c in range(C)]
                  for f in range(F)]
        self.b = [symbol("b", f) for f in range(F)]
        self.G = [[symbol_matrix("G", self.OH, self.OW, n, f)
                   for f in range(F)] for n in range(N)]
        p = padding
        self.xp = [[pad(xc, p, p, p, p) for xc in xn] for xn in self.x]
        self.y = [[sum((correlate(self.xp[n][c], self.w[f][c], stride) for c in range(C)),
                       sp.zeros(self.OH, self.OW)) + self.b[f] * sp.ones(self.OH, self.OW)
                   for f in range(F)] for n in range(N)]
        self.loss = sp.Add(*(self.G[n][f][i, j] * self.y[n][f][i, j]
                             for n in range(N) for f in range(F)
                             for i in range(self.OH) for j in range(self.OW)))
        # L expanded into monomials G*w*x and G*b, each with its symbols, so that
        # diff only visits the terms that contain the variable (the others give 0)
        self._terms = [(t, t.free_symbols) for t in sp.expand(self.loss).args]
        self._grads: dict = {}

    # -- derivatives, by diff -------------------------------------------------
    def diff(self, v: sp.Symbol) -> sp.Expr:
        """dL/dv: sympy.diff of L, term by term."""
        if v not in self._grads:
            self._grads[v] = sp.Add(*(sp.diff(t, v) for t, syms in self._terms if v in syms))
        return self._grads[v]

    def dw(self):
        return [[m.applyfunc(self.diff) for m in wf] for wf in self.w]

    def db(self):
        return [self.diff(bf) for bf in self.b]

    def dx(self):
        return [[m.applyfunc(self.diff) for m in xn] for xn in self.x]

    # -- the identities' right-hand sides ------------------------------------
    def dilated_G(self, n: int, f: int) -> sp.Matrix:
        """G dilated by the stride, padded bottom/right by the rows and columns of
        the padded input that no window reaches ((H + 2p - KH) mod s)."""
        extra_r = (self.H + 2 * self.p - self.KH) % self.s
        extra_c = (self.W + 2 * self.p - self.KW) % self.s
        return pad(dilate(self.G[n][f], self.s), 0, extra_r, 0, extra_c)

    def dw_by_correlation(self):
        return [[sum((crop(correlate(self.xp[n][c], dilate(self.G[n][f], self.s)),
                           0, 0, self.KH, self.KW) for n in range(self.N)),
                     sp.zeros(self.KH, self.KW))
                 for c in range(self.C)] for f in range(self.F)]

    def db_by_sum(self):
        return [sum(sum(self.G[n][f]) for n in range(self.N)) for f in range(self.F)]

    def dx_by(self, full_op, kernel_op):
        """crop_p( sum_f full_op(dilated G[f], kernel_op(w[f,c])) )."""
        p = self.p
        return [[crop(sum((full_op(self.dilated_G(n, f), kernel_op(self.w[f][c]))
                           for f in range(self.F)),
                          sp.zeros(self.H + 2 * p, self.W + 2 * p)),
                      p, p, self.H, self.W)
                 for c in range(self.C)] for n in range(self.N)]


def check_identities(net: Conv2d) -> dict[str, bool]:
    dw, db, dx = net.dw(), net.db(), net.dx()
    same = lambda A, B: all(expands_to_zero(a - b) for ra, rb in zip(A, B)  # noqa: E731
                            for a, b in zip(ra, rb))
    keep = lambda m: m  # noqa: E731
    return {
        "dw": same(dw, net.dw_by_correlation()),
        "db": all(sp.expand(a - b) == 0 for a, b in zip(db, net.db_by_sum())),
        "dx_full_convolution": same(dx, net.dx_by(full_convolve, keep)),
        "dx_full_correlation_rot180": same(dx, net.dx_by(full_correlate, rot180)),
        # the double flip: a true convolution with the ROTATED kernel
        "dx_convolution_rot180_differs": not same(dx, net.dx_by(full_convolve, rot180)),
    }


# --------------------------------------------------------------------------
# Chains: the two identities derived by hand, one entry at a time
# --------------------------------------------------------------------------
def term_counts(nets: dict, entries: list[str]) -> tuple[dict, Proof, str]:
    """Terms per exported entry at stride 1 and stride 2 (same entries), and the proof of fewer."""
    def terms(net, name):
        if name.startswith("dL/dw["):
            f, c, a, b = map(int, name[6:-1].split(","))
            e = net.diff(net.w[f][c][a, b])
        elif name.startswith("dL/db["):
            e = net.diff(net.b[int(name[6:-1])])
        else:
            n, c, h, k = map(int, name[6:-1].split(","))
            e = net.diff(net.x[n][c][h, k])
        return len(sp.Add.make_args(sp.expand(e))) if e != 0 else 0
    one, two = nets["stride1"], nets["stride2"]
    counts = {name: {"stride1": terms(one, name), "stride2": terms(two, name)} for name in entries}
    every = all(terms(two, n) <= terms(one, n) for n in
                [f"dL/dx[0,{c},{h},{k}]" for c in range(one.C) for h in range(one.H)
                 for k in range(one.W)]
                + [f"dL/dw[{f},{c},{a},{b}]" for f in range(one.F) for c in range(one.C)
                   for a in range(one.KH) for b in range(one.KW)])
    proof = Proof.of({"the listed entries have fewer terms at stride 2":
                      all(v["stride2"] < v["stride1"] for v in counts.values()),
                      "no entry of dL/dw or dL/dx has more terms at stride 2": every})
    rows = r" \\ ".join(rf"\texttt{{{n}}} & {v['stride1']} & {v['stride2']}"
                        for n, v in counts.items())
    latex = (r"\begin{array}{lcc} \text{entry} & \text{stride 1} & \text{stride 2} \\ \hline "
             + rows + r"\end{array}")
    return counts, proof, latex


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------
def case_export(net: Conv2d) -> dict:
    f = {}
    for n, fo in itertools.product(range(net.N), range(net.F)):
        for i, j in itertools.product(range(net.OH), range(net.OW)):
            f[f"y[{n},{fo},{i},{j}]"] = export.formula(
                net.y[n][fo][i, j], f"y_{{{n},{fo},{i},{j}}}",
                "forward: bias + cross-correlation of the padded input, summed over channels")
    dw, db, dx = net.dw(), net.db(), net.dx()
    for fo, c in itertools.product(range(net.F), range(net.C)):
        for a, b in itertools.product(range(net.KH), range(net.KW)):
            f[f"dL/dw[{fo},{c},{a},{b}]"] = export.formula(
                dw[fo][c][a, b], partial(net.w[fo][c][a, b]),
                "sum over output positions of G times the input entry under w")
    for fo in range(net.F):
        f[f"dL/db[{fo}]"] = export.formula(db[fo], partial(net.b[fo]), "sum of G over channel f")
    for n, c in itertools.product(range(net.N), range(net.C)):
        for i, j in itertools.product(range(net.H), range(net.W)):
            f[f"dL/dx[{n},{c},{i},{j}]"] = export.formula(
                dx[n][c][i, j], partial(net.x[n][c][i, j]),
                "sum over output channels and positions of G times the weight that saw x")
    return export.case(
        {"N": net.N, "C": net.C, "F": net.F, "H": net.H, "W": net.W, "KH": net.KH,
         "KW": net.KW, "padding": net.p, "stride": net.s, "OH": net.OH, "OW": net.OW},
        {"x": export.names(net.x), "w": export.names(net.w), "b": export.names(net.b),
         "G": export.names(net.G)}, f)


def derive() -> dict:
    cases, checked = {}, []
    proven = Checks()  # each identity, and-ed over every size checked

    def record(ok: dict[str, bool], where: str) -> None:
        for name, result in ok.items():
            if not proven(name, result):
                raise AssertionError(f"conv2d identity {name} failed at {where}")

    nets = {}
    for name, N, C, F, H, K, p, s in CASES:
        net = nets[name] = Conv2d(N, C, F, H, H, K, K, p, s)
        record(check_identities(net), name)
        cases[name] = case_export(net)
        checked.append(f"N={N} C={C} F={F} {H}x{H} k={K}x{K} p={p} s={s}")
    for h, w, kh, kw, p, s in IDENTITY_SIZES:
        ok = check_identities(Conv2d(1, 1, 1, h, w, kh, kw, p, s))
        # a 1x1 kernel is its own rotation: the double flip is harmless there
        if kh == kw == 1:
            del ok["dx_convolution_rot180_differs"]
        record(ok, str((h, w, kh, kw, p, s)))
    record(check_identities(Conv2d(*BATCH_SIZE_CHECK)), str(BATCH_SIZE_CHECK))
    N, C, F, H, W, KH, KW, p, s = BATCH_SIZE_CHECK
    checked.append(f"N={N} C={C} F={F} {H}x{W} k={KH}x{KW} p={p} s={s}")
    checked.append(f"C=F=1, {len(IDENTITY_SIZES)} sizes: (H,W) in 3x3, 4x5; "
                   "(KH,KW) in 1x1, 2x3, 3x3; padding 0..2; stride 1..3")
    sizes = checked[:2] + [f"C=F=1 {h}x{w} k={kh}x{kw} p={p} s={s}"
                           for h, w, kh, kw, p, s in IDENTITY_SIZES] + checked[2:3]
    where = "; ".join(checked)
    check = f"sympy.expand(lhs - rhs) == 0 for every entry (lhs by sympy.diff of L = sum G*y, term by term), on {where}"
    dil = r"\operatorname{dil}_s"
    facts = {
        "dw_is_correlation_of_input_with_upstream": export.fact(
            "The weight gradient dL/dw[f,c] is the 'valid' cross-correlation of the padded "
            "input channel c with the upstream gradient of output channel f, dilated by the "
            "stride (s - 1 zeros between entries), summed over the batch and cut to its first "
            "KH x KW entries (with a stride that does not divide H + 2p - KH the "
            "correlation is larger: its extra rows/columns belong to input rows no window "
            "reaches). No flip.",
            proof=proven.proof("dw"), sizes=sizes, check=check,
            latex=rf"\frac{{\partial L}}{{\partial w_{{f,c}}}} = \sum_n \operatorname{{corr}}"
                  rf"\big(x^p_{{n,c}},\ {dil}(G_{{n,f}})\big)_{{[0:KH,\,0:KW]}}"),
        "db_is_sum_of_upstream": export.fact(
            "The bias gradient dL/db[f] is the sum of the upstream gradient of output channel f "
            "over the batch and all output positions.",
            proof=proven.proof("db"), sizes=sizes, check=check,
            latex=r"\frac{\partial L}{\partial b_f} = \sum_{n,i,j} G_{n,f,i,j}"),
        "dx_is_full_convolution_with_kernels": export.fact(
            "The input gradient dL/dx[n,c] is the FULL true convolution (kernel flipped, as "
            "scipy.signal.convolve2d(., ., 'full')) of the stride-dilated upstream gradient "
            "with w[f,c], summed over the output channels f, then cropped by the padding p on "
            "every side. Before the convolution the dilated gradient is padded at the bottom "
            "and right with (H + 2p - KH) mod s zeros (input rows no window reaches).",
            proof=proven.proof("dx_full_convolution"), sizes=sizes, check=check,
            latex=rf"\frac{{\partial L}}{{\partial x_{{n,c}}}} = \operatorname{{crop}}_p"
                  rf"\Big(\sum_f \operatorname{{conv}}_{{\text{{full}}}}\big({dil}(G_{{n,f}}),"
                  r"\ w_{f,c}\big)\Big)"),
        "dx_is_full_correlation_with_rotated_kernels": export.fact(
            "Equivalently: dL/dx[n,c] is the FULL cross-correlation (sliding window, no flip) "
            "of the stride-dilated upstream gradient with the 180-degree-rotated kernels "
            "rot180(w[f,c]), summed over f, cropped by the padding. This is the usual "
            "'full convolution with the flipped kernel' of deep-learning texts, where "
            "'convolution' means the sliding-window (correlation) operation.",
            proof=proven.proof("dx_full_correlation_rot180"), sizes=sizes, check=check,
            latex=rf"\frac{{\partial L}}{{\partial x_{{n,c}}}} = \operatorname{{crop}}_p"
                  rf"\Big(\sum_f \operatorname{{corr}}_{{\text{{full}}}}\big({dil}(G_{{n,f}}),"
                  r"\ \operatorname{rot180}(w_{f,c})\big)\Big)"),
        "dx_true_convolution_with_rotated_kernels_is_wrong": export.fact(
            "Flipping twice is wrong: a full TRUE convolution with the rotated kernels "
            "(conv_full(dil(G), rot180(w)) = corr_full(dil(G), w)) differs from dL/dx for "
            "generic inputs on every size checked with a kernel larger than 1x1.",
            proof=proven.proof("dx_convolution_rot180_differs"), sizes=sizes,
            check=check.replace("== 0 for every entry", "!= 0 for some entry"),
            latex=rf"\operatorname{{crop}}_p\Big(\sum_f \operatorname{{conv}}_{{\text{{full}}}}"
                  rf"\big({dil}(G_{{n,f}}),\ \operatorname{{rot180}}(w_{{f,c}})\big)\Big) \neq "
                  r"\frac{\partial L}{\partial x_{n,c}}"),
    }
    shown = ["dL/dw[0,1,2,0]", "dL/db[1]", "dL/dx[0,0,0,0]", "dL/dx[0,1,1,2]"]
    counts, fewer, table = term_counts(nets, shown)
    facts["stride2_fewer_terms_per_entry"] = export.fact(
        "The same entries have fewer terms at stride 2 than at stride 1, because the "
        "windows are placed every 2 pixels: " + "; ".join(
            f"{n} has {v['stride1']} terms at stride 1 and {v['stride2']} at stride 2"
            for n, v in counts.items()) + ". No entry of dL/dw or dL/dx has more terms "
        "at stride 2.",
        proof=fewer, sizes=checked[:2],
        check="len(sympy.Add.make_args(sympy.expand(sympy.diff(L, v)))) for every weight and "
              "input entry v, on both cases",
        latex=table, data={"terms": counts})
    chains = {"dw_stride1": dw_chain(nets["stride1"]), "dw_stride2": dw_chain(nets["stride2"]),
              "dx_stride1": dx_chain(nets["stride1"]), "dx_stride2": dx_chain(nets["stride2"]),
              "true_convolution_is_correlation_with_rot180": flip_chain()}
    return export.document(
        title="Multi-channel convolution (cross-correlation) with bias, padding and stride",
        source="derivations/conv2d.py", cases=cases, facts=facts, chains=chains)


main = subject_main(__name__)


if __name__ == "__main__":
    print(main())
