"""Experiments that test the lecture notes' claims, one module per study.

Each module has the same skeleton (see :mod:`fnnet.experiments._common`): ``Config`` (with
``Config.smoke()``), ``run(cfg) -> dict``, ``plot(results, out_dir)``, ``table(results)`` and
``main(argv) -> int``. Run one with ``fnnet experiment NAME [--smoke]`` or
``python experiments/NAME.py``.
"""

NAMES: tuple[str, ...] = (
    "digits_mlp",
    "xor",
    "rprop_vs_backprop",
    "rprop_minibatch",
    "nielsen_mnist",
    "cnn",
    "pca_autoencoder",
    "stacked_autoencoder",
    "vanishing_gradients",
    "universal_approximation",
    "manual_vs_autodiff",
)

__all__ = ["NAMES"]
