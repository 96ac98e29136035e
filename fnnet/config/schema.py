"""The frozen dataclasses a config validates into, and the constants around them. Every default
lives here: the dataclass fields (``TrainConfig``, ``OptimizerConfig``, ...), :data:`DEFAULTS` (the
same defaults as a config file would spell them), the allowed ``MODES`` and ``GRAD_METHODS``, the
valid keys of each section, and the limits on a run name and a config file's size.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from fnnet.errors import ConfigError
from fnnet.models import LayerSpec

MODES = ("online", "minibatch", "full")
GRAD_METHODS = ("manual", "autodiff")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_MAX_BYTES = 1 << 20  # a config is a few hundred bytes; refuse anything over 1 MiB


# ------------------------------------------------------------------------------ dataclasses


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """layers: validated layer specs, applied in order (``serial``). input_shape: the shape of
    one example, e.g. ``(64,)``; ``None`` takes the dataset's (a given one must match it)."""

    layers: tuple[LayerSpec, ...]
    input_shape: tuple[int, ...] | None = None


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """name: a key of ``fnnet.losses.ALL``."""

    name: str = "softmax_cross_entropy"


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """name and keyword arguments of ``fnnet.optim.get`` (fnnet rules or any optax optimizer)."""

    name: str = "momentum"
    params: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: MappingProxyType({"learning_rate": 0.1, "alpha": 0.9})
    )

    def build(self):
        """The ``optax.GradientTransformation``."""
        from fnnet import optim

        return optim.get(self.name, **dict(self.params))


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How to train.

    mode: ``"online"`` (batch size 1), ``"minibatch"`` (``batch_size``), ``"full"`` (all training
      patterns in one batch: one update per epoch).
    batch_size: mini-batch size (``mode="minibatch"`` only; default 32).
    epochs: maximum number of epochs.
    target_loss: stop once the training-set loss falls below it (``None``: never).
    patience, min_delta: early stopping on the validation loss (``None``: off).
    grad: ``"manual"`` (the hand-derived backward pass) or ``"autodiff"`` (``jax.grad``).
    shuffle: a fresh random order every epoch.
    checkpoint_every: save a checkpoint every this many epochs (and at the end).
    keep_checkpoints: how many of the newest checkpoints to keep.
    """

    mode: str = "minibatch"
    batch_size: int | None = 32
    epochs: int = 30
    target_loss: float | None = None
    patience: int | None = None
    min_delta: float = 0.0
    grad: str = "manual"
    shuffle: bool = True
    checkpoint_every: int = 10
    keep_checkpoints: int = 3

    def batch_size_for(self, n_train: int) -> int:
        """The batch size for ``n_train`` training patterns (1, batch_size, or n_train)."""
        if self.mode == "online":
            return 1
        if self.mode == "full":
            return n_train
        assert self.batch_size is not None
        if self.batch_size > n_train:
            raise ConfigError(
                f"train.batch_size: {self.batch_size} is larger than the {n_train} training "
                f'patterns; use a batch_size <= {n_train}, or mode = "full".'
            )
        return self.batch_size


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """name and keyword arguments of ``fnnet.data.load``."""

    name: str = "digits"
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))

    def load(self):
        """The :class:`~fnnet.data.Dataset`."""
        from fnnet import data

        return data.load(self.name, **dict(self.kwargs))


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole run. ``source`` (the file it came from) is for messages and not compared."""

    model: ModelConfig
    name: str = "run"
    seed: int = 0
    output_dir: str = "runs"
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    source: str | None = dataclasses.field(default=None, compare=False)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


#: Every default, as the sections of a config file would spell it.
DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "name": "(the config file's stem)",
        "seed": Config.seed,
        "output_dir": Config.output_dir,
        "loss": LossConfig.name,
        "optimizer": {"name": OptimizerConfig.name, "learning_rate": 0.1, "alpha": 0.9},
        "train": {f.name: f.default for f in dataclasses.fields(TrainConfig)},
        "data": {"name": DataConfig.name},
    }
)

_TOP_KEYS = ("name", "seed", "output_dir", "model", "loss", "optimizer", "train", "data")
_MODEL_KEYS = ("layers", "input_shape")
_TRAIN_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig))
