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
from pathlib import Path

import sympy as sp

from . import export
from .proof import Checks, Proof
from .steps import Step, chain

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
# 2-D helpers on SymPy matrices, written out
# --------------------------------------------------------------------------
def pad(m: sp.Matrix, top: int, bottom: int, left: int, right: int) -> sp.Matrix:
    out = sp.zeros(m.rows + top + bottom, m.cols + left + right)
    out[top:top + m.rows, left:left + m.cols] = m
    return out


def dilate(m: sp.Matrix, s: int) -> sp.Matrix:
    """Insert s - 1 zeros between neighbouring entries (s = 1: unchanged)."""
    out = sp.zeros(s * (m.rows - 1) + 1, s * (m.cols - 1) + 1)
    for i, j in itertools.product(range(m.rows), range(m.cols)):
        out[s * i, s * j] = m[i, j]
    return out


def rot180(m: sp.Matrix) -> sp.Matrix:
    return sp.Matrix(m.rows, m.cols, lambda i, j: m[m.rows - 1 - i, m.cols - 1 - j])


def correlate(x: sp.Matrix, k: sp.Matrix, stride: int = 1) -> sp.Matrix:
    """'valid' cross-correlation: ``out[i,j] = sum_ab x[s i + a, s j + b] k[a,b]``."""
    oh = (x.rows - k.rows) // stride + 1
    ow = (x.cols - k.cols) // stride + 1
    return sp.Matrix(oh, ow, lambda i, j: sp.Add(*(
        x[stride * i + a, stride * j + b] * k[a, b]
        for a in range(k.rows) for b in range(k.cols))))


def full_correlate(g: sp.Matrix, k: sp.Matrix) -> sp.Matrix:
    """'full' cross-correlation: pad by the kernel size - 1 on every side."""
    return correlate(pad(g, k.rows - 1, k.rows - 1, k.cols - 1, k.cols - 1), k)


def full_convolve(g: sp.Matrix, k: sp.Matrix) -> sp.Matrix:
    """'full' TRUE convolution (``scipy.signal.convolve2d(g, k, 'full')``): k flipped."""
    return full_correlate(g, rot180(k))


def crop(m: sp.Matrix, top: int, left: int, rows: int, cols: int) -> sp.Matrix:
    return m[top:top + rows, left:left + cols]


def is_zero_matrix(m: sp.Matrix) -> bool:
    return all(sp.expand(e) == 0 for e in m)  # polynomials: expand decides


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
        sym = lambda name, *idx: sp.Symbol(f"{name}_{{{','.join(map(str, idx))}}}", real=True)  # noqa: E731
        self.x = [[sp.Matrix(H, W, lambda i, j, n=n, c=c: sym("x", n, c, i, j)) for c in range(C)]
                  for n in range(N)]
        self.w = [[sp.Matrix(KH, KW, lambda a, b, f=f, c=c: sym("w", f, c, a, b)) for c in range(C)]
                  for f in range(F)]
        self.b = [sym("b", f) for f in range(F)]
        self.G = [[sp.Matrix(self.OH, self.OW, lambda i, j, n=n, f=f: sym("G", n, f, i, j))
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
    same = lambda A, B: all(is_zero_matrix(a - b) for ra, rb in zip(A, B)  # noqa: E731
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
# Each step is an expression in IndexedBase entries (G, w, x^p and named arrays
# such as the dilated G); ``definitions`` says what each entry is, computed by
# the helpers above (pad, dilate, rot180, correlate) or by sympy.diff, and
# derivations.steps proves every step equal to the one before after
# substituting them. ``\partial_{w} y`` stands for the derivative dy/dw (the
# export parser has no Derivative node); its entries are defined by sympy.diff.
_i, _j, _f, _a, _e, _r, _t = sp.symbols("i j f a e r t", integer=True)
_G, _w, _xp = (sp.IndexedBase(name, real=True) for name in ("G", "w", "x^p"))


def _sum(expr, *limits):
    """A sum over ``limits``, given outermost first (SymPy lists the innermost first)."""
    return sp.Sum(expr, *reversed(limits))


PROVEN = ("sympy .doit() writes out the finite sums; every named array is replaced by its "
          "entries - G, w and x^p by the case's symbols (0 in the padding), the dilated and "
          "padded G, the rotated kernel and the correlations by what the helpers pad, dilate, "
          "rot180 and correlate of derivations/conv2d.py compute, and the derivative of y by "
          "sympy.diff - and derivations.proof.is_zero proves each difference is 0 (the first "
          "step against sympy.diff of L = sum G y)")


def _printed(record: dict) -> dict:
    """The chain's LaTeX re-printed from each step's srepr with index_sums.tex: the same
    expression, one sum sign per index and ``i + 2 - a`` rather than ``- a + i + 2``."""
    from .index_sums import tex
    from .safe_srepr import parse_srepr
    for step in record["steps"]:
        step["latex"] = tex(parse_srepr(step["srepr"]))
    return record


def _array(name: str) -> sp.IndexedBase:
    return sp.IndexedBase(name, real=True)


def _base_definitions(net: Conv2d) -> dict:
    """G, w and x^p entries (with concrete indices) -> the case's symbols (0 in the padding)."""
    defs = {}
    for n, f in itertools.product(range(net.N), range(net.F)):
        for i, j in itertools.product(range(net.OH), range(net.OW)):
            defs[_G[n, f, i, j]] = net.G[n][f][i, j]
    for f, c in itertools.product(range(net.F), range(net.C)):
        for a, e in itertools.product(range(net.KH), range(net.KW)):
            defs[_w[f, c, a, e]] = net.w[f][c][a, e]
    for n, c in itertools.product(range(net.N), range(net.C)):
        xp = net.xp[n][c]
        for u, v in itertools.product(range(xp.rows), range(xp.cols)):
            defs[_xp[n, c, u, v]] = xp[u, v]
    return defs


def _derivative_of_y(net: Conv2d, var) -> tuple[sp.IndexedBase, dict]:
    dy = _array(rf"\partial_{{{sp.latex(var)}}} y")
    return dy, {dy[n, f, i, j]: sp.diff(net.y[n][f][i, j], var)
                for n, f in itertools.product(range(net.N), range(net.F))
                for i, j in itertools.product(range(net.OH), range(net.OW))}


def _dil(s: int, what: str) -> str:
    return what if s == 1 else rf"\operatorname{{dil}}_{s}({what})"


def _replaced(steps: list, replace: dict | None) -> list:
    """``steps`` with step k (1-based) replaced by ``replace[k]``: how the tests break a chain."""
    return [(replace or {}).get(k, step) for k, step in enumerate(steps, start=1)]


def dw_chain(net: Conv2d, fo: int = 0, co: int = 1, ao: int = 2, eo: int = 0,
             replace: dict | None = None) -> dict:
    """dL/dw[fo,co,ao,eo]: chain rule, dy/dw is a pixel, the correlation of x^p with (dilated) G."""
    s, var = net.s, net.w[fo][co][ao, eo]
    dy, defs = _derivative_of_y(net, var)
    defs.update(_base_definitions(net))
    steps = [
        Step(_sum(_G[0, _f, _i, _j] * dy[0, _f, _i, _j], (_f, 0, net.F - 1),
                  (_i, 0, net.OH - 1), (_j, 0, net.OW - 1)),
             "Chain rule: L depends on the weight only through the outputs y, and "
             "G = dL/dy weights each output's derivative (one image, n = 0)."),
        Step(_sum(_G[0, fo, _i, _j] * _xp[0, co, s * _i + ao, s * _j + eo],
                  (_i, 0, net.OH - 1), (_j, 0, net.OW - 1)),
             f"Only output channel f = {fo} uses this weight, and in y[0,{fo},i,j] it "
             f"multiplies exactly one pixel of the padded input channel c = {co}, the one "
             f"at row {s if s > 1 else ''}i + {ao}, column {s if s > 1 else ''}j"
             + (f" + {eo}" if eo else "") + " of the padded input: dy/dw is that pixel (0 "
             "where it is padding)."),
    ]
    corr = _array(rf"\operatorname{{corr}}\big(x^p_{{0,{co}}},\ {_dil(s, f'G_{{0,{fo}}}')}\big)")
    defs[corr[ao, eo]] = net.dw_by_correlation()[fo][co][ao, eo]
    if s > 1:
        dil = _array(rf"\operatorname{{dil}}_{s}(G)")
        dg = dilate(net.G[0][fo], s)
        defs.update({dil[0, fo, r, t]: dg[r, t] for r in range(dg.rows) for t in range(dg.cols)})
        steps.append(Step(
            _sum(dil[0, fo, _r, _t] * _xp[0, co, _r + ao, _t + eo],
                 (_r, 0, dg.rows - 1), (_t, 0, dg.cols - 1)),
            f"Dilate G: dil_{s}(G) holds G[i,j] at row {s}i, column {s}j and zeros in "
            f"between ({s - 1} between neighbours). Summing over every row r and column t "
            f"of it adds only zeros to the sum above, and r = {s}i, t = {s}j give its terms."))
    steps.append(Step(
        corr[ao, eo],
        f"That is the sliding-window sum of the padded input under {'G' if s == 1 else f'dil_{s}(G)'} placed "
        f"at offset ({ao}, {eo}): entry ({ao}, {eo}) of the 'valid' cross-correlation of the "
        f"padded input channel {co} with the upstream gradient of channel {fo}"
        + (", dilated" if s > 1 else "") + ". No flip."))
    return _printed(chain(rf"\frac{{\partial L}}{{\partial {sp.latex(var)}}}", net.diff(var), _replaced(steps, replace),
                 definitions=defs, proven=PROVEN,
                 description=f"One weight, stride {s} (the {'stride' + str(s)} case: N = 1, "
                             f"C = F = 2, a {net.H}x{net.W} input, {net.KH}x{net.KW} kernels, "
                             f"padding {net.p})."))


def dx_chain(net: Conv2d, co: int = 1, ho: int = 1, ko: int = 2,
             replace: dict | None = None) -> dict:
    """dL/dx[0,co,ho,ko]: chain rule, dy/dx is a weight, full correlation with rot180(w), crop."""
    s, p, KH, KW = net.s, net.p, net.KH, net.KW
    var = net.x[0][co][ho, ko]
    u, v = ho + p, ko + p                     # the pixel in the padded input
    dy, defs = _derivative_of_y(net, var)
    defs.update(_base_definitions(net))
    lo = lambda t, K: max(0, -((K - 1 - t) // s))     # noqa: E731  ceil((t - K + 1)/s)
    hi = lambda t, O: min(O - 1, t // s)              # noqa: E731
    gt, rot = _array(r"\tilde{G}"), _array(r"\operatorname{rot180}(w)")
    for f in range(net.F):
        g = pad(net.dilated_G(0, f), KH - 1, KH - 1, KW - 1, KW - 1)
        defs.update({gt[0, f, r, t]: g[r, t] for r in range(g.rows) for t in range(g.cols)})
        k = rot180(net.w[f][co])
        defs.update({rot[f, co, a, e]: k[a, e] for a in range(KH) for e in range(KW)})
    crop_name = (rf"\operatorname{{crop}}_{p}\Big(\sum_f \operatorname{{corr}}_{{\text{{full}}}}"
                 rf"\big({_dil(s, 'G_{0,f}')},\ \operatorname{{rot180}}(w_{{f,{co}}})\big)\Big)")
    cropped = _array(crop_name)
    defs[cropped[ho, ko]] = net.dx_by(full_correlate, rot180)[0][co][ho, ko]
    si = (lambda t: s * t) if s > 1 else (lambda t: t)      # noqa: E731
    si_ = f"{s}i" if s > 1 else "i"
    sj_ = f"{s}j" if s > 1 else "j"
    steps = [
        Step(_sum(_G[0, _f, _i, _j] * dy[0, _f, _i, _j], (_f, 0, net.F - 1),
                  (_i, 0, net.OH - 1), (_j, 0, net.OW - 1)),
             "Chain rule: L depends on the pixel through every output y, of every output "
             "channel f, and G = dL/dy weights each output's derivative."),
        Step(_sum(_G[0, _f, _i, _j] * _w[_f, co, u - si(_i), v - si(_j)], (_f, 0, net.F - 1),
                  (_i, lo(u, KH), hi(u, net.OH)), (_j, lo(v, KW), hi(v, net.OW))),
             f"With padding p = {p} the pixel ({ho}, {ko}) is ({u}, {v}) of the padded input. "
             f"Output (i, j) reads it only if its window, rows {si_} to "
             f"{si_} + {KH - 1} and likewise columns, covers it, and then with "
             f"the weight at offset ({u} - {si_}, {v} - {sj_}): "
             "dy/dx is that weight, and the sums keep only the windows that cover the pixel."),
        Step(_sum(gt[0, _f, u + _a, v + _e] * rot[_f, co, _a, _e], (_f, 0, net.F - 1),
                  (_a, 0, KH - 1), (_e, 0, KW - 1)),
             "Collect by kernel offset. Let G~ be G "
             + (f"dilated ({s - 1} zero between neighbours, so G[i,j] sits at ({s}i, {s}j)) and "
                if s > 1 else "")
             + f"padded by K - 1 = {KH - 1} zeros on every side, and rot180(w)[a,e] = "
               f"w[{KH - 1} - a, {KW - 1} - e] the kernel turned by 180 degrees. The sum above is "
               "the window of G~ at the pixel times the rotated kernel: a full "
               "cross-correlation; the extra terms meet zeros of G~."),
        Step(_sum(gt[0, _f, u + KH - 1 - _a, v + KW - 1 - _e] * _w[_f, co, _a, _e],
                  (_f, 0, net.F - 1), (_a, 0, KH - 1), (_e, 0, KW - 1)),
             f"Substitute a -> {KH - 1} - a, e -> {KW - 1} - e (the same products in the "
             "other order): the index of G~ now runs against the kernel's, a full TRUE "
             "convolution with the kernel as it is. One flip, not two."),
        Step(cropped[ho, ko],
             f"Over all pixels these are the entries of the full correlation (summed over f), "
             f"one for each position of the padded input; dropping the {p} padding row(s) and "
             f"column(s) on every side (crop) leaves the input pixel ({ho}, {ko})."),
    ]
    return _printed(chain(rf"\frac{{\partial L}}{{\partial {sp.latex(var)}}}", net.diff(var), _replaced(steps, replace),
                 definitions=defs, proven=PROVEN,
                 description=f"One input pixel, stride {s} (N = 1, C = F = 2, a {net.H}x{net.W} "
                             f"input, {KH}x{KW} kernels, padding {p})."))


def flip_chain(k: int = 3, replace: dict | None = None) -> dict:
    """True convolution = correlation with the rotated kernel, for any image and (i, j)."""
    x, K, R = _array("x"), _array("K"), _array(r"\operatorname{rot180}(K)")
    i, j, a, e = sp.symbols("i j a b", integer=True)
    kmat = sp.Matrix(k, k, lambda r, t: K[r, t])
    window = sp.Matrix(k, k, lambda r, t: x[i + r, j + t])
    defs = {R[r, t]: rot180(kmat)[r, t] for r in range(k) for t in range(k)}
    star = _array(r"\big(x \star \operatorname{rot180}(K)\big)")
    defs[star[i, j]] = correlate(window, rot180(kmat))[0, 0]
    truth = _sum(x[i + k - 1 - a, j + k - 1 - e] * K[a, e], (a, 0, k - 1), (e, 0, k - 1))
    steps = [
        Step(truth, "Definition of the true convolution (scipy.signal.convolve2d, 'valid'): "
                    "as the kernel index a grows, the image row falls; weight K[0,0] meets "
                    "the bottom-right pixel of the window."),
        Step(_sum(x[i + a, j + e] * K[k - 1 - a, k - 1 - e], (a, 0, k - 1), (e, 0, k - 1)),
             f"Substitute a -> {k - 1} - a, b -> {k - 1} - b: the same {k * k} products, "
             "summed in the other order; now the image index grows with a."),
        Step(_sum(x[i + a, j + e] * R[a, e], (a, 0, k - 1), (e, 0, k - 1)),
             f"rot180(K)[a,b] = K[{k - 1} - a, {k - 1} - b] is the kernel turned by 180 degrees."),
        Step(star[i, j], "A sliding window with no flip: the cross-correlation of deep-learning "
                         "libraries (PyTorch's conv2d), with the rotated kernel."),
    ]
    return _printed(chain(r"(x * K)_{i,j}", truth, _replaced(steps, replace), definitions=defs, proven=(
        "sympy .doit() writes out the sums over the kernel (the image indices i, j stay "
        "symbols, so this holds for any image size), rot180(K) and the correlation are "
        "replaced by what rot180 and correlate of derivations/conv2d.py compute, and "
        "derivations.proof.is_zero proves each difference is 0"),
                 description=f"A {k}x{k} kernel on an image of any size, at any output "
                             "position (i, j): the image indices stay symbols."))


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
def _d(sym) -> str:
    return rf"\frac{{\partial L}}{{\partial {sp.latex(sym)}}}"


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
                dw[fo][c][a, b], _d(net.w[fo][c][a, b]),
                "sum over output positions of G times the input entry under w")
    for fo in range(net.F):
        f[f"dL/db[{fo}]"] = export.formula(db[fo], _d(net.b[fo]), "sum of G over channel f")
    for n, c in itertools.product(range(net.N), range(net.C)):
        for i, j in itertools.product(range(net.H), range(net.W)):
            f[f"dL/dx[{n},{c},{i},{j}]"] = export.formula(
                dx[n][c][i, j], _d(net.x[n][c][i, j]),
                "sum over output channels and positions of G times the weight that saw x")
    return {
        "parameters": {"N": net.N, "C": net.C, "F": net.F, "H": net.H, "W": net.W,
                       "KH": net.KH, "KW": net.KW, "padding": net.p, "stride": net.s,
                       "OH": net.OH, "OW": net.OW},
        "variables": {"x": [[export.names(m) for m in xn] for xn in net.x],
                      "w": [[export.names(m) for m in wf] for wf in net.w],
                      "b": export.names(net.b),
                      "G": [[export.names(m) for m in gn] for gn in net.G]},
        "formulas": f,
    }


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
    return {
        "chains": chains,
        "title": "Multi-channel convolution (cross-correlation) with bias, padding and stride",
        "source": "derivations/conv2d.py",
        "cases": cases,
        "facts": facts,
    }


def main(directory: Path = export.EXPORT_DIR) -> Path:
    return export.write(SUBJECT, derive(), directory)


if __name__ == "__main__":
    print(main())
