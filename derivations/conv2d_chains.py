"""The convolution's chains: dL/dw and dL/dx derived by hand, one entry at a time.

Each chain (:mod:`derivations.steps`) is what a reader writes: the chain rule,
the local derivative (a pixel for a weight, a weight for a pixel), then the
collection into a (dilated) correlation or a full convolution with the rotated
kernel. Every step is proven equal to the one before on a symbolic
:class:`derivations.conv2d.Conv2d` instance; ``replace={k: Step(...)}`` swaps
step k, which is how the tests show that a wrong step is refused. Exported by
:mod:`derivations.conv2d`.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import sympy as sp

from .steps import Step, chain
from .toolkit import correlate, dilate, full_correlate, pad, partial, reprinted, rot180

if TYPE_CHECKING:
    from .conv2d import Conv2d

# Each step is an expression in IndexedBase entries (G, w, x^p and named arrays
# such as the dilated G); ``definitions`` says what each entry is, computed by
# the helpers of derivations.toolkit (pad, dilate, rot180, correlate) or by sympy.diff, and
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
    return reprinted(chain(partial(var), net.diff(var), _replaced(steps, replace),
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
    return reprinted(chain(partial(var), net.diff(var), _replaced(steps, replace),
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
    return reprinted(chain(r"(x * K)_{i,j}", truth, _replaced(steps, replace), definitions=defs, proven=(
        "sympy .doit() writes out the sums over the kernel (the image indices i, j stay "
        "symbols, so this holds for any image size), rot180(K) and the correlation are "
        "replaced by what rot180 and correlate of derivations/conv2d.py compute, and "
        "derivations.proof.is_zero proves each difference is 0"),
                 description=f"A {k}x{k} kernel on an image of any size, at any output "
                             "position (i, j): the image indices stay symbols."))
