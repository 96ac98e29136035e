"""Validation of a raw config table (as ``tomllib`` returns it) into a :class:`Config`: the
helpers that check one value (``_str``, ``_int``, ``_choice``, ...), one validator per section
(``_model``, ``_loss``, ``_optimizer``, ``_train``, ``_data``, ``_seed``) and :func:`_validate` for
the whole table. Each raises :class:`~fnnet.models.Invalid` with the key path and the problem; the
entry points turn that into a :class:`~fnnet.errors.ConfigError` naming the source.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from fnnet.config.schema import (
    _MODEL_KEYS,
    _NAME_RE,
    _TOP_KEYS,
    _TRAIN_KEYS,
    GRAD_METHODS,
    MODES,
    Config,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimizerConfig,
    TrainConfig,
)
from fnnet.errors import ConfigError, did_you_mean
from fnnet.models import MAX_DEPTH, Invalid, check_layer, type_name

# ------------------------------------------------------------------------------ validation helpers


def _check_keys(path: str, table: Mapping[str, Any], valid: Sequence[str], what: str) -> None:
    for key in table:
        if key not in valid:
            where = f"{path}.{key}" if path else key
            raise Invalid(
                where,
                f"unknown key {key!r} in {what}{did_you_mean(key, valid)}; valid keys: {', '.join(valid)}.",
            )


def _table(path: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(
            path, f"must be a table ([{path}] section), got {value!r:.60} ({type_name(value)})."
        )
    return value


def _str(path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(path, f"must be a string, got {value!r:.60} ({type_name(value)}).")
    return value


def _choice(path: str, value: Any, choices: Sequence[str]) -> str:
    value = _str(path, value)
    if value not in choices:
        raise Invalid(
            path, f"unknown value {value!r}{did_you_mean(value, choices)}; valid: {', '.join(choices)}."
        )
    return value


def _int(path: str, value: Any, *, low: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(path, f"must be an integer, got {value!r:.60} ({type_name(value)}).")
    if low is not None and value < low:
        raise Invalid(path, f"must be an integer >= {low}, got {value}.")
    return value


def _float(path: str, value: Any, *, low: float | None = None, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(path, f"must be a number, got {value!r:.60} ({type_name(value)}).")
    value = float(value)
    if not math.isfinite(value):
        raise Invalid(path, f"must be a finite number, got {value}.")
    if positive and value <= 0:
        raise Invalid(path, f"must be > 0, got {value}.")
    if low is not None and value < low:
        raise Invalid(path, f"must be >= {low}, got {value}.")
    return value


def _bool(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(path, f"must be true or false, got {value!r:.60} ({type_name(value)}).")
    return value


def _plain_value(path: str, value: Any, depth: int = 0) -> Any:
    """A TOML value that can be written back (no dates); lists become tuples."""
    if depth > MAX_DEPTH:
        raise Invalid(path, f"is nested more than {MAX_DEPTH} deep.")
    if isinstance(value, (datetime.date, datetime.time)):
        raise Invalid(path, f"dates and times are not valid here, got {value!r}.")
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(path, f"must be a finite number, got {value}.")
    if isinstance(value, list):
        return tuple(_plain_value(f"{path}[{i}]", v, depth + 1) for i, v in enumerate(value))
    if isinstance(value, dict):
        return MappingProxyType(
            {k: _plain_value(f"{path}.{k}", v, depth + 1) for k, v in value.items()}
        )
    return value


def _unfreeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _unfreeze(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_unfreeze(v) for v in value]
    return value


# ------------------------------------------------------------------------------ sections


def _model(raw: Any) -> ModelConfig:
    table = _table("model", raw)
    _check_keys("model", table, _MODEL_KEYS, "[model]")
    if "layers" not in table:
        raise Invalid(
            "model.layers",
            'is missing: list the layers, e.g. layers = [{type = "Dense", out_dim = 10}].',
        )
    layers = table["layers"]
    if not isinstance(layers, list) or not layers:
        raise Invalid(
            "model.layers", f"must be a non-empty list of layer tables, got {layers!r:.80}."
        )
    specs = tuple(check_layer(t, f"model.layers[{i}]", 1) for i, t in enumerate(layers))
    input_shape = None
    if "input_shape" in table:
        shape = table["input_shape"]
        if not isinstance(shape, list) or not shape:
            raise Invalid(
                "model.input_shape",
                f"must be a non-empty list of positive integers, e.g. [64], got {shape!r:.60}.",
            )
        input_shape = tuple(_int(f"model.input_shape[{i}]", d, low=1) for i, d in enumerate(shape))
    return ModelConfig(specs, input_shape)


def _loss(raw: Any) -> LossConfig:
    from fnnet import losses

    if isinstance(raw, dict):
        _check_keys("loss", raw, ("name",), "[loss]")
        if "name" not in raw:
            raise Invalid("loss.name", f"is missing; valid losses: {', '.join(losses.ALL)}.")
        path, name = "loss.name", raw["name"]
    else:
        path, name = "loss", raw
    return LossConfig(_choice(path, name, tuple(losses.ALL)))


def _optimizer(raw: Any) -> OptimizerConfig:
    from fnnet import optim

    table = _table("optimizer", raw)
    if "name" not in table:
        raise Invalid(
            "optimizer.name",
            f'is missing; fnnet rules: {", ".join(optim.NAMES)} (or any optax optimizer, e.g. "adam").',
        )
    name = _str("optimizer.name", table["name"])
    params: dict[str, Any] = {}
    for key, value in table.items():
        if key == "name":
            continue
        if key == "learning_rate":
            value = _float("optimizer.learning_rate", value, positive=True)
        elif key == "variant":
            value = _choice("optimizer.variant", value, optim.RPROP_VARIANTS)
        else:
            value = _plain_value(f"optimizer.{key}", value)
        params[key] = value
    config = OptimizerConfig(name, MappingProxyType(params))
    try:
        config.build()
    except Invalid:
        raise
    except ConfigError as e:
        named = [k for k in params if re.search(rf"\b{re.escape(k)}\b", str(e))]
        if str(e).startswith("unknown optimizer"):
            named = ["name"]
        raise Invalid(f"optimizer.{named[0]}" if len(named) == 1 else "optimizer", str(e)) from None
    except Exception as e:  # noqa: BLE001 (an optax factory's own complaint about a value)
        raise Invalid(
            "optimizer",
            f"{name}({', '.join(f'{k}={v!r}' for k, v in params.items())}) failed: "
            f"{type(e).__name__}: {e}",
        ) from None
    return config


def _train(raw: Any) -> TrainConfig:
    table = _table("train", raw)
    _check_keys("train", table, _TRAIN_KEYS, "[train]")
    d = TrainConfig()
    mode = _choice("train.mode", table.get("mode", d.mode), MODES)
    batch_size: int | None
    if mode == "minibatch":
        batch_size = _int("train.batch_size", table.get("batch_size", d.batch_size), low=1)
    else:
        batch_size = None
        if "batch_size" in table:
            b = _int("train.batch_size", table["batch_size"], low=1)
            if not (mode == "online" and b == 1):
                raise Invalid(
                    "train.batch_size",
                    f"is set to {b} but mode = {mode!r} fixes the batch size "
                    f"({'1' if mode == 'online' else 'all training patterns'}); remove it (--set "
                    'train.batch_size= removes it) or use mode = "minibatch".',
                )
    target = table.get("target_loss")
    patience = table.get("patience")
    return TrainConfig(
        mode=mode,
        batch_size=batch_size,
        epochs=_int("train.epochs", table.get("epochs", d.epochs), low=0),
        target_loss=None if target is None else _float("train.target_loss", target, low=0.0),
        patience=None if patience is None else _int("train.patience", patience, low=1),
        min_delta=_float("train.min_delta", table.get("min_delta", d.min_delta), low=0.0),
        grad=_choice("train.grad", table.get("grad", d.grad), GRAD_METHODS),
        shuffle=_bool("train.shuffle", table.get("shuffle", d.shuffle)),
        checkpoint_every=_int(
            "train.checkpoint_every", table.get("checkpoint_every", d.checkpoint_every), low=1
        ),
        keep_checkpoints=_int(
            "train.keep_checkpoints", table.get("keep_checkpoints", d.keep_checkpoints), low=1
        ),
    )


def _data(raw: Any) -> DataConfig:
    from fnnet import data

    table = _table("data", raw)
    names = data.names()
    name = _choice("data.name", table.get("name", DataConfig.name), names)
    accepted = data.keywords(name)
    kwargs = {}
    for key, value in table.items():
        if key == "name":
            continue
        if key not in accepted:
            raise Invalid(
                f"data.{key}",
                f"dataset {name!r} has no keyword {key!r}{did_you_mean(key, accepted)}; "
                f"it accepts: {', '.join(accepted) or '(none)'}.",
            )
        kwargs[key] = _plain_value(f"data.{key}", value)
    return DataConfig(name, MappingProxyType(kwargs))


def _seed(value: Any) -> int:
    seed = _int("seed", value, low=0)
    if seed >= 2**32:
        raise Invalid("seed", f"must be below 2**32 = {2**32}, got {seed}.")
    return seed


def _validate(raw: dict[str, Any], default_name: str) -> Config:
    _check_keys("", raw, _TOP_KEYS, "the config")
    if "model" not in raw:
        raise Invalid("model", "is missing: add a [model] section with layers = [...].")
    name = _str("name", raw.get("name", default_name))
    if not _NAME_RE.match(name) or name in (".", ".."):
        raise Invalid(
            "name",
            f"{name!r} is not a usable folder name: use letters, digits, '_', '-', '.' "
            "(at most 100 characters, not starting with '.' or '-').",
        )
    output_dir = _str("output_dir", raw.get("output_dir", Config.output_dir))
    if not output_dir or "\x00" in output_dir:
        raise Invalid("output_dir", f"must be a non-empty path, got {output_dir!r}.")
    return Config(
        model=_model(raw["model"]),
        name=name,
        seed=_seed(raw.get("seed", Config.seed)),
        output_dir=output_dir,
        loss=_loss(raw.get("loss", LossConfig.name)),
        optimizer=_optimizer(raw["optimizer"]) if "optimizer" in raw else OptimizerConfig(),
        train=_train(raw.get("train", {})),
        data=_data(raw.get("data", {"name": DataConfig.name})),
    )
