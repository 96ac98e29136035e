"""Run configs: a TOML file -> frozen, validated dataclasses. Every default lives here.

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

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fnnet.errors import ConfigError, did_you_mean
from fnnet.models import MAX_DEPTH, Invalid, LayerSpec, check_layer, type_name

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


# ------------------------------------------------------------------------------ validation helpers


def _hint(name: str, valid: Iterable[str]) -> str:
    return did_you_mean(name, valid)


def _check_keys(path: str, table: Mapping[str, Any], valid: Sequence[str], what: str) -> None:
    for key in table:
        if key not in valid:
            where = f"{path}.{key}" if path else key
            raise Invalid(
                where,
                f"unknown key {key!r} in {what}{_hint(key, valid)}; valid keys: {', '.join(valid)}.",
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
            path, f"unknown value {value!r}{_hint(value, choices)}; valid: {', '.join(choices)}."
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
                f"dataset {name!r} has no keyword {key!r}{_hint(key, accepted)}; "
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


# ------------------------------------------------------------------------------ overrides

_SEGMENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*|\d+")


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


#: ``parse_override("key=")`` returns this: the key is removed and its default applies.
DELETE = _Delete()


def parse_override(text: str) -> tuple[tuple[str | int, ...], Any]:
    """``"train.batch_size=64"`` -> ``(("train", "batch_size"), 64)``.

    The key is a dotted path; list items are addressed as ``layers[0]`` or ``layers.0``. The
    value is read as a TOML value (``64``, ``0.1``, ``true``, ``"x"``, ``[8, 8, 1]``,
    ``{type = "Tanh"}``); anything that is not one is taken as a plain string. An empty value
    (``train.batch_size=``) removes the key, so that its default applies.
    """
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set train.batch_size=64.")
    key, _, value_text = text.partition("=")
    key = key.strip()
    parts: list[str | int] = []
    for raw in key.replace("[", ".").replace("]", "").split("."):
        if not _SEGMENT_RE.fullmatch(raw):
            raise ConfigError(
                f"--set {text!r}: {key!r} is not a key path; write it like train.batch_size "
                "or model.layers[0].out_dim."
            )
        parts.append(int(raw) if raw.isdigit() else raw)
    if isinstance(parts[0], int):
        raise ConfigError(f"--set {text!r}: a key path starts with a name, e.g. train.epochs.")
    if not value_text.strip():
        return tuple(parts), DELETE
    try:
        value = tomllib.loads(f"v = {value_text.strip()}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError, KeyError):
        value = value_text.strip()
    return tuple(parts), value


def _format_path(parts: Sequence[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def apply_overrides(
    raw: dict[str, Any], overrides: Iterable[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Set each ``KEY=VALUE`` in (a copy of) the raw table; returns it and {path: override}."""
    raw = _unfreeze(raw)
    origin: dict[str, str] = {}
    for text in overrides:
        parts, value = parse_override(text)
        node: Any = raw
        for i, part in enumerate(parts[:-1]):
            nxt = parts[i + 1]
            here = _format_path(parts[: i + 1])
            if isinstance(part, int):
                if not isinstance(node, list) or not 0 <= part < len(node):
                    raise ConfigError(
                        f"--set {text!r}: {here} is not an item of a list "
                        f"(the list has {len(node) if isinstance(node, list) else 0} items)."
                    )
                node = node[part]
            else:
                if not isinstance(node, dict):
                    raise ConfigError(
                        f"--set {text!r}: {_format_path(parts[:i]) or 'the config'} is not a table."
                    )
                if part not in node:
                    node[part] = [] if isinstance(nxt, int) else {}
                node = node[part]
        last = parts[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or not 0 <= last < len(node):
                raise ConfigError(
                    f"--set {text!r}: {_format_path(parts)} is not an item of a list."
                )
        elif not isinstance(node, dict):
            raise ConfigError(f"--set {text!r}: {_format_path(parts[:-1])} is not a table.")
        if value is DELETE:
            if isinstance(last, int):
                del node[last]
            else:
                node.pop(last, None)
        else:
            node[last] = value
        origin[_format_path(parts)] = text
    return raw, origin


# ------------------------------------------------------------------------------ entry points


def _source_of(path: str, source: str, origin: Mapping[str, str]) -> str:
    """The --set that produced ``path`` (or a table above it), else the file."""
    for key, text in origin.items():
        if path == key or path.startswith((key + ".", key + "[")):
            return f"--set {text}"
        if key.startswith((path + ".", path + "[")):
            return f"{source} (with --set {text})"
    return source


def from_dict(
    raw: Mapping[str, Any],
    *,
    source: str = "<config>",
    overrides: Iterable[str] = (),
    default_name: str = Config.name,
) -> Config:
    """Validate a raw table (as ``tomllib`` returns it) after applying ``overrides``."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: a config must be a table of keys, got {type(raw).__name__}.")
    table, origin = apply_overrides(dict(raw), overrides)
    try:
        config = _validate(table, default_name)
    except Invalid as e:
        raise ConfigError(f"{_source_of(e.path, source, origin)}: {e.path}: {e.problem}") from None
    except RecursionError:
        raise ConfigError(f"{source}: the config is nested too deeply.") from None
    return dataclasses.replace(config, source=source)


def _decode(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)", msg)
        lines = text.splitlines()
        if m:
            n, where = int(m.group(1)), f":{m.group(1)}:{m.group(2)}"
            problem = msg[: m.start()] + msg[m.end() :]
        else:
            n = max(1, len(lines))
            where = f":{n}"
            problem = msg.replace(" (at end of document)", " at the end of the file")
        shown = f"\n  line {n}: {lines[n - 1][:120]}" if 1 <= n <= len(lines) else ""
        raise ConfigError(
            f"{source}{where}: invalid TOML: {problem}; fix the syntax (https://toml.io: "
            f"strings need quotes, tables [name], lists [a, b]).{shown}"
        ) from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid TOML: nested too deeply.") from None


def loads(
    text: str,
    *,
    source: str = "<string>",
    overrides: Iterable[str] = (),
    default_name: str = Config.name,
) -> Config:
    """Parse and validate TOML text."""
    if not isinstance(text, str):
        raise ConfigError(f"{source}: expected TOML text, got {type(text).__name__}.")
    return from_dict(
        _decode(text, source), source=source, overrides=overrides, default_name=default_name
    )


def load(path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> Config:
    """Read and validate the TOML file ``path``; ``name`` defaults to the file's stem."""
    p = Path(path)
    if not p.is_file():
        hint = ""
        if p.parent.is_dir():
            stems = [q.name for q in p.parent.glob("*.toml")]
            hint = _hint(p.name, stems) if stems else ""
        raise ConfigError(
            f"config file {str(p)!r} not found (cwd {os.getcwd()}){hint}; "
            "pass the path of a .toml file, e.g. configs/digits_mlp.toml."
        )
    try:
        size = p.stat().st_size
        if size > _MAX_BYTES:
            raise ConfigError(
                f"{p}: {size} bytes is too large for a config (at most {_MAX_BYTES})."
            )
        data = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read config file {str(p)!r}: {e.strerror or e}.") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError(
            f"{p}:{line}: the file is not UTF-8 text (byte {e.start}); save it as UTF-8."
        ) from None
    default_name = p.stem if _NAME_RE.match(p.stem) else Config.name
    return loads(text, source=str(p), overrides=overrides, default_name=default_name)


# ------------------------------------------------------------------------------ writing


def to_dict(config: Config) -> dict[str, Any]:
    """The resolved config as plain TOML-able data (no ``None``s; every default filled in)."""
    model: dict[str, Any] = {"layers": [s.to_dict() for s in config.model.layers]}
    if config.model.input_shape is not None:
        model["input_shape"] = list(config.model.input_shape)
    train = {k: v for k, v in dataclasses.asdict(config.train).items() if v is not None}
    return {
        "name": config.name,
        "seed": config.seed,
        "output_dir": config.output_dir,
        "loss": config.loss.name,
        "model": model,
        "optimizer": {"name": config.optimizer.name, **_unfreeze(dict(config.optimizer.params))},
        "train": train,
        "data": {"name": config.data.name, **_unfreeze(dict(config.data.kwargs))},
    }


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_str(s: str) -> str:
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(k: str) -> str:
    return k if _BARE_KEY.match(k) else _toml_str(k)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise ConfigError(f"cannot write {v!r} ({type(v).__name__}) as TOML.")


def to_toml(config: Config | Mapping[str, Any]) -> str:
    """TOML text that :func:`loads` reads back to an equal config."""
    d = to_dict(config) if isinstance(config, Config) else dict(config)
    lines = []
    for k, v in d.items():
        if not isinstance(v, Mapping):
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in d.items():
        if isinstance(v, Mapping):
            lines.append(f"\n[{_toml_key(k)}]")
            for kk, vv in v.items():
                if kk == "layers" and isinstance(vv, (list, tuple)):
                    lines.append("layers = [")
                    lines.extend(f"  {_toml_value(layer)}," for layer in vv)
                    lines.append("]")
                else:
                    lines.append(f"{_toml_key(kk)} = {_toml_value(vv)}")
    return "\n".join(lines) + "\n"
