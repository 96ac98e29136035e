"""Building a run from its config: the dataset arrays, the model (shape-checked against the data
without computing anything), the loss, the optimizer and the batch size, before anything is
written to disk (see :mod:`fnnet.runs`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from fnnet import config as cfg
from fnnet.errors import ConfigError, ShapeError
from fnnet.layers.base import Layer
from fnnet.losses import Loss
from fnnet.models import build_model

__all__ = ["Prepared", "prepare"]


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Everything a config builds: dataset arrays, model, loss, optimizer, batch size.

    ``loss`` is the configured loss; when it compares outputs to one-hot rows (sse, quadratic,
    ...) and the dataset is labelled with class ids, the targets are one-hot and the loss is
    marked as a classification loss so that accuracy is reported.
    """

    config: cfg.Config
    dataset: Any
    model: Layer
    loss: Loss
    optimizer: Any
    input_shape: tuple[int, ...]
    batch_size: int
    splits: dict[str, tuple[np.ndarray, np.ndarray]]

    def init_state(self):
        from fnnet.train import init_state

        key = jax.random.PRNGKey(self.config.seed)
        return init_state(self.model, self.optimizer, key, (-1, *self.input_shape))


def prepare(config: cfg.Config) -> Prepared:
    """Load the data, build and shape-check the model, the loss and the optimizer.

    Raises:
      DataError: the dataset cannot be loaded or holds invalid values.
      ShapeError: the model does not fit the data (input width, output units vs classes).
      ConfigError: the batch size does not fit the training set.
    """
    from fnnet import losses

    src = config.source or "the config"
    ds = config.data.load()
    input_shape = tuple(int(d) for d in ds.input_shape)
    if config.model.input_shape is not None and tuple(config.model.input_shape) != input_shape:
        raise ShapeError(
            f"{src}: model.input_shape = {list(config.model.input_shape)} but dataset "
            f"{config.data.name!r} has examples of shape {list(input_shape)}; remove "
            "model.input_shape (it is taken from the data) or fix it."
        )
    model = build_model(config.model.layers)
    shapes: dict[str, Any] = {}

    def init(key: Any) -> Any:  # shapes only: eval_shape computes nothing
        shapes["out"], params = model.init(key, (-1, *input_shape))
        return params

    try:
        jax.eval_shape(init, jax.random.PRNGKey(0))
    except ValueError as e:  # ShapeError and the layers' own ValueErrors
        raise ShapeError(
            f"{src}: the model does not fit dataset {config.data.name!r} (examples of shape "
            f"{list(input_shape)}): {e}"
        ) from None
    out_shape = tuple(shapes["out"])
    want = ds.output_dim
    if len(out_shape) != 2 or out_shape[-1] != want:
        what = f"{want} classes" if ds.task == "classification" else f"targets of width {want}"
        raise ShapeError(
            f"{src}: the model's output has shape {list(out_shape[1:])} per example, but dataset "
            f"{config.data.name!r} has {what}; end the model with a Dense layer of out_dim = {want}."
        )
    loss = losses.get(config.loss.name)
    one_hot = ds.task == "classification" and not loss.classification
    if one_hot:  # sse / quadratic / ... compare outputs with one-hot rows; accuracy is the argmax
        loss = dataclasses.replace(loss, classification=True)
    n_train = int(ds.x_train.shape[0])
    batch_size = config.train.batch_size_for(n_train)
    if config.train.patience is not None and ds.x_val.shape[0] == 0:
        raise ConfigError(
            f"{src}: train.patience: early stopping needs a validation split, but dataset "
            f"{config.data.name!r} has none; remove train.patience."
        )
    splits = {}
    for name in ("train", "val", "test"):
        x, y = getattr(ds, f"x_{name}"), getattr(ds, f"y_{name}")
        if x.shape[0]:
            splits[name] = (x, ds.one_hot(y) if one_hot else y)
    return Prepared(
        config, ds, model, loss, config.optimizer.build(), input_shape, batch_size, splits
    )
