"""Run configs: a TOML file -> frozen, validated dataclasses. Every default lives in
:mod:`fnnet.config.schema`.

A config (see ``configs/*.toml``)::

    name = "digits_mlp"           # runs go to <output_dir>/<name>/<timestamp>/ (default: file stem)
    seed = 0                      # initial weights and shuffling
    output_dir = "runs"
    loss = "softmax_cross_entropy"

    [model]                       # input_shape is optional: it is taken from the dataset
    layers = [
      {type = "Dense", out_dim = 64}, {type = "Tanh"}, {type = "Dense", out_dim = 10},
    ]

    [optimizer]                   # name + the keywords of fnnet.optim.get(name, ...)
    name = "momentum"
    learning_rate = 0.1
    alpha = 0.9

    [train]
    mode = "minibatch"            # "online" (batch 1) | "minibatch" | "full" (one batch = all)
    batch_size = 32
    epochs = 40

    [data]                        # name + the keywords of fnnet.data.load(name, ...)
    name = "digits"

:func:`load` reads and validates a file, :func:`loads` text, :func:`from_dict` a table; each
takes ``overrides`` such as ``["train.batch_size=64", "model.layers[0].out_dim=128"]`` (the
``--set`` options of the CLI; the value is read as a TOML value, else taken as a string; an
empty value removes the key).
Any problem raises :class:`~fnnet.errors.ConfigError` naming the file (or the ``--set``), the key
path (``train.batch_size``) and, for a misspelt key or name, the closest valid one.
:func:`to_toml` writes a config back (the resolved config a run saves).
"""

from fnnet.config.overrides import DELETE, apply_overrides, parse_override
from fnnet.config.reading import from_dict, load, loads
from fnnet.config.schema import (
    DEFAULTS,
    GRAD_METHODS,
    MODES,
    Config,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimizerConfig,
    TrainConfig,
)
from fnnet.config.toml_writer import to_dict, to_toml

__all__ = [
    "DEFAULTS",
    "DELETE",
    "GRAD_METHODS",
    "MODES",
    "Config",
    "DataConfig",
    "LossConfig",
    "ModelConfig",
    "OptimizerConfig",
    "TrainConfig",
    "apply_overrides",
    "from_dict",
    "load",
    "loads",
    "parse_override",
    "to_dict",
    "to_toml",
]
