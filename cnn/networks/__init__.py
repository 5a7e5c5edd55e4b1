r"""The seed networks, assembled from the layer functions of :mod:`cnn`.

Every network here is a small object with the same interface, which the
training loop (:mod:`cnn.training`), the model files (:mod:`cnn.serialize`),
the CLI and the estimator rely on:

* ``name`` (class attribute) and ``config`` (a JSON-able dict: everything
  needed to rebuild the network, see :meth:`Network.from_state`);
* ``params``: a dict of named parameter arrays, all in ``config["dtype"]``;
* ``forward(x) -> (output, cache)`` and ``backward(doutput, cache) -> grads``
  (a dict with the keys of ``params``), each layer's backward call written
  right under the matching forward call's position in reverse order;
* ``loss(output, y) -> (loss, doutput)`` and ``loss_and_grads(x, y)``;
* ``check_labels(y, n)``: the labels this network can learn (class indices
  ``0..n_classes-1``, 0/1 for digits01, any finite number for the toy net),
  the one label check that the loss and :func:`cnn.train` use;
* ``predict(x)`` (class labels) and ``evaluate(x, y)`` (mean loss, accuracy).

Inputs are images in NCHW layout, ``(N, 1, H, W)`` (``(N, H, W)`` is accepted
and given a channel axis), with pixel values in $[0, 1]$, of the dtypes the
layers accept (float32, float64, integers; float16 is refused), converted to
the network's own dtype. Each network
standardises its input with two scalars kept in its config,
$\hat x = (x - \mu)/\sigma$ (``input_mean``, ``input_std``; 0 and 1 unless
set with :meth:`Network.set_input_scaling`), so a saved model carries its
own preprocessing.

Networks
--------
:class:`ToyNet`
    N1, the seed 004 toy net; a thin wrapper around :mod:`cnn.toy_net`.
:class:`Digits01Net`
    N2, the multi-channel CNN of seed 000 for digits 0 vs 1, with the seed's
    per-channel activations, an L2 cost, and the seed's deliberately broken
    back-propagation variants as named options.
:class:`MnistNet`
    N4, the MNIST CNN of seed 003: conv (2, 1, 5, 5) + b, ReLU, 2x2 max pool,
    dense 288 -> 60, ReLU, dense 60 -> 10, softmax cross-entropy. Its dense
    size adapts to the input size.
"""

from .base import Network, softmax
from .digits01 import BACKPROP_VARIANTS, SEED_DENSE_SIZES, Digits01Net, pool_backward_variant
from .mnist import MnistNet
from .toy import ToyNet

__all__ = ["Network", "ToyNet", "Digits01Net", "MnistNet", "NETWORKS",
           "BACKPROP_VARIANTS", "SEED_DENSE_SIZES", "pool_backward_variant", "softmax"]

#: Every network by its CLI name.
NETWORKS: dict[str, type[Network]] = {cls.name: cls for cls in (ToyNet, Digits01Net, MnistNet)}
