"""Every layer of the registry agrees with its PyTorch equivalent and autograd.

The equivalent is the entry's ``torch`` function (``cnn.registry`` names it
without importing PyTorch). Forward value and every gradient, on each of the
entry's fixed shapes, in float64 (relative error <= 1e-12) and float32
(<= 1e-5). Skipped, with the reason shown by ``pytest -ra``, when PyTorch is
not installed; CI installs the CPU build so it runs there. What is special to
one layer (the tie rule, saturated activations) is in its own file.
"""

from __future__ import annotations

import numpy as np
import pytest

from layer_checks import LAYERS, TORCH_DTYPES, check_torch, import_torch, rng_for


def test_every_layer_names_its_pytorch_equivalent():
    assert [name for name, layer in LAYERS.items() if layer.torch is None] == []


@pytest.mark.parametrize("dtype", sorted(TORCH_DTYPES))
@pytest.mark.parametrize("name, k", [pytest.param(n, k, id=f"{n}-{c.id}")
                                     for n, layer in sorted(LAYERS.items())
                                     for k, c in enumerate(layer.configs)])
def test_layer_matches_torch(name, k, dtype):
    torch = import_torch()
    layer, (np_dtype, rtol) = LAYERS[name], TORCH_DTYPES[dtype]
    config = layer.configs[k]
    rng = rng_for(name, f"torch{k}")
    arrays = {n: v if n in layer.labels else v.astype(np_dtype)
              for n, v in layer.values(rng, config).items()}
    tensors = {n: torch.tensor(v) if n in layer.labels else torch.tensor(v, requires_grad=True)
               for n, v in arrays.items()}
    theirs = layer.torch(torch.nn.functional, tensors, config.hyper)
    out = layer.run(arrays, config.hyper)
    if layer.backward is None:                       # a loss: (loss, gradient)
        check_torch(np.asarray(out[0]), theirs, rtol, f"{name} loss")
        theirs.backward()
        dy = None
    else:
        check_torch(out, theirs, rtol, f"{name} y")
        dy = rng.standard_normal(out.shape).astype(np_dtype)
        theirs.backward(torch.tensor(dy))
    for arg, grad in layer.gradients(dy, arrays, config.hyper).items():
        check_torch(grad, tensors[arg].grad, rtol, f"{name} d{arg}")
