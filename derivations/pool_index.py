"""The index-form vocabulary of pooling, shared by max and average pooling.

Sizes N, C, H, W, window k, stride s and the output sizes O_H, O_W are
positive integer symbols; a window (i, j) covers the input rows s i .. s i + k - 1
(offset a) and columns s j .. s j + k - 1 (offset e), floor mode, no padding.
Gradients are taken at the input entry x[n', c', u, v], whose indices range
over :data:`BOX`.
"""

from __future__ import annotations

import sympy as sp

N, C, H, W, k, s, OH, OW = sp.symbols("N C H W k s O_H O_W", integer=True, positive=True)
n, c, i, j, a, e = sp.symbols("n c i j a e", integer=True, nonnegative=True)
n_, c_, u, v = sp.symbols("n' c' u v", integer=True, nonnegative=True)
x, G = sp.IndexedBase("x", real=True), sp.IndexedBase("G", real=True)
delta = sp.KroneckerDelta
#: The free indices of dL/dx[n', c', u, v] and their ranges.
BOX = {n_: (0, N - 1), c_: (0, C - 1), u: (0, H - 1), v: (0, W - 1)}

#: What every all-sizes pooling fact assumes.
ASSUMPTIONS = [
    "N, C, H, W, the window k and the stride s are integers >= 1, with k <= H and k <= W",
    "O_H = floor((H - k)/s) + 1, O_W = floor((W - k)/s) + 1",
    "indices in range: 0 <= n < N, 0 <= c < C, 0 <= u < H, 0 <= v < W",
]
