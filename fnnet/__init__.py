"""fnnet: neural networks as pure JAX functions, with hand-derived backpropagation.

The pipeline reads top to bottom::

    config -> data -> layers (init/apply/backward) -> losses -> backprop | jax.grad
           -> optim (optax rules) -> train (jit/scan/vmap/sharding) -> checkpoint / plots -> cli
"""

from fnnet import backprop, checkpoint, data, errors, gradcheck, initializers, layers, losses, optim, train
from fnnet.backprop import as_custom_vjp, grad, value_and_grad

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "as_custom_vjp",
    "backprop",
    "checkpoint",
    "data",
    "errors",
    "grad",
    "gradcheck",
    "initializers",
    "layers",
    "losses",
    "optim",
    "train",
    "value_and_grad",
]
