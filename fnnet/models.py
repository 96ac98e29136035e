"""Models from configs: a list of layer tables -> one ``serial`` :class:`~fnnet.layers.Layer`.

A config names each layer by its ``fnnet.layers`` factory and passes the factory's keywords::

    layers = [
      {type = "Reshape", shape = [8, 8, 1]},
      {type = "Conv2D", features = 6, kernel = 5, padding = "SAME"},
      {type = "Tanh"},
      {type = "MaxPool2D", window = 2},
      {type = "Flatten"},
      {type = "Dense", out_dim = 10, W_init = {name = "normal", stddev = 0.1}},
      {type = "Residual", layers = [{type = "Dense", out_dim = 10}, {type = "Tanh"}]},
    ]

:data:`LAYER_SCHEMAS` says which keywords each layer takes and of what kind; :func:`check_layer`
validates one table against it (``fnnet.config`` calls it for every layer of a config) and
:func:`build_model` turns validated specs into the model.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from fnnet import initializers
from fnnet import layers as L
from fnnet.errors import ConfigError, did_you_mean
from fnnet.layers.base import Layer

__all__ = [
    "LAYER_SCHEMAS",
    "MAX_DEPTH",
    "Invalid",
    "LayerSpec",
    "build_layer",
    "build_model",
    "check_layer",
    "layer_names",
]

#: Deepest nesting of ``Residual`` bodies a config may use.
MAX_DEPTH = 16


class Invalid(ConfigError):
    """A config value is invalid; ``path`` is its key path, e.g. ``model.layers[2].out_dim``."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.problem = message


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """One validated layer table: the factory name and its keyword arguments.

    ``params`` is read-only; lists became tuples, ``Residual``'s ``layers`` a tuple of specs and
    initializer tables read-only mappings. ``to_dict()`` gives the table back.
    """

    type: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for key, value in self.params.items():
            out[key] = _plain(value)
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, LayerSpec):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


# ------------------------------------------------------------------------------ value kinds
# Each checker takes (path, value, depth) and returns the normalised value or raises Invalid.


def type_name(value: Any) -> str:
    """How an error message names a config value's type: 'an integer', 'a table', ..."""
    if isinstance(value, (datetime.date, datetime.time)):
        return "a date/time"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _pos_int(path: str, value: Any, depth: int = 0) -> int:
    del depth
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid(path, f"must be a positive integer, got {value!r} ({type_name(value)}).")
    return value


def _real(path: str, value: Any, depth: int = 0) -> float:
    del depth
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Invalid(path, f"must be a finite number, got {value!r} ({type_name(value)}).")
    return float(value)


def _int(path: str, value: Any, depth: int = 0) -> int:
    del depth
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(path, f"must be an integer, got {value!r} ({type_name(value)}).")
    return value


def _int_or_pair(path: str, value: Any, depth: int = 0) -> int | tuple[int, int]:
    del depth
    if isinstance(value, list):
        if len(value) != 2:
            raise Invalid(path, f"must be a positive integer or a pair [h, w], got {value!r}.")
        return (_pos_int(f"{path}[0]", value[0]), _pos_int(f"{path}[1]", value[1]))
    return _pos_int(path, value)


def _padding(path: str, value: Any, depth: int = 0) -> str | tuple[tuple[int, int], ...]:
    del depth
    if isinstance(value, str):
        if value.upper() not in ("SAME", "VALID"):
            raise Invalid(
                path,
                f'unknown padding {value!r}; use "SAME", "VALID" or [[top, bottom], [left, right]].',
            )
        return value.upper()
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(
            isinstance(p, list)
            and len(p) == 2
            and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in p)
            for p in value
        )
    )
    if not ok:
        raise Invalid(
            path,
            f'must be "SAME", "VALID" or [[top, bottom], [left, right]] with pads >= 0, got {value!r}.',
        )
    return tuple((p[0], p[1]) for p in value)


def _shape(path: str, value: Any, depth: int = 0) -> tuple[int, ...]:
    del depth
    if not isinstance(value, list) or not value:
        raise Invalid(
            path, f"must be a non-empty list of positive integers, e.g. [8, 8, 1], got {value!r}."
        )
    return tuple(_pos_int(f"{path}[{i}]", v) for i, v in enumerate(value))


def _initializer(path: str, value: Any, depth: int = 0) -> str | Mapping[str, Any]:
    """An initializer: a name ("he_normal") or a table {name = "normal", stddev = 0.1}."""
    del depth
    if isinstance(value, str):
        name, kwargs = value, {}
    elif isinstance(value, dict):
        if "name" not in value:
            raise Invalid(
                path,
                f'an initializer table needs a name, e.g. {{name = "normal", stddev = 0.1}}, got {value!r}.',
            )
        name, kwargs = value["name"], {k: v for k, v in value.items() if k != "name"}
        if not isinstance(name, str):
            raise Invalid(f"{path}.name", f"must be a string, got {name!r}.")
        for k, v in kwargs.items():
            kwargs[k] = _real(f"{path}.{k}", v)
    else:
        raise Invalid(
            path, f'must be an initializer name (e.g. "glorot_normal") or a table, got {value!r}.'
        )
    if name not in initializers.NAMES:
        raise Invalid(
            path,
            f"unknown initializer {name!r}{did_you_mean(name, initializers.NAMES)}; valid: {', '.join(initializers.NAMES)}.",
        )
    try:
        initializers.get(name, **kwargs)
    except ConfigError as e:
        raise Invalid(path, str(e)) from None
    return name if isinstance(value, str) else MappingProxyType({"name": name, **kwargs})


def _layer_list(path: str, value: Any, depth: int = 0) -> tuple[LayerSpec, ...]:
    if not isinstance(value, list) or not value:
        raise Invalid(
            path,
            f'must be a non-empty list of layer tables, e.g. [{{type = "Dense", out_dim = 10}}], got {value!r:.80}.',
        )
    if depth >= MAX_DEPTH:
        raise Invalid(path, f"layers are nested more than {MAX_DEPTH} deep; flatten the model.")
    return tuple(check_layer(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))


@dataclasses.dataclass(frozen=True)
class _Schema:
    factory: Callable[..., Layer]
    kinds: Mapping[str, Callable[..., Any]]
    required: tuple[str, ...] = ()


_INITS = {"W_init": _initializer, "b_init": _initializer}
_POOL = {"window": _int_or_pair, "strides": _int_or_pair, "padding": _padding}

#: Layer type -> its factory, keyword kinds and required keywords.
LAYER_SCHEMAS: Mapping[str, _Schema] = MappingProxyType(
    {
        "Dense": _Schema(L.Dense, {"out_dim": _pos_int, **_INITS}, ("out_dim",)),
        "Conv2D": _Schema(
            L.Conv2D,
            {
                "features": _pos_int,
                "kernel": _int_or_pair,
                "strides": _int_or_pair,
                "padding": _padding,
                **_INITS,
            },
            ("features",),
        ),
        "MaxPool2D": _Schema(L.MaxPool2D, _POOL),
        "AvgPool2D": _Schema(L.AvgPool2D, _POOL),
        "Sigmoid": _Schema(L.Sigmoid, {"gain": _real}),
        "Tanh": _Schema(L.Tanh, {}),
        "ReLU": _Schema(L.ReLU, {}),
        "LeakyReLU": _Schema(L.LeakyReLU, {"slope": _real}),
        "Identity": _Schema(L.Identity, {}),
        "Softmax": _Schema(L.Softmax, {"axis": _int}),
        "Flatten": _Schema(L.Flatten, {}),
        "Reshape": _Schema(L.Reshape, {"shape": _shape}, ("shape",)),
        "Residual": _Schema(L.Residual, {"layers": _layer_list}, ("layers",)),
    }
)


def layer_names() -> tuple[str, ...]:
    """The layer ``type`` names a config may use."""
    return tuple(LAYER_SCHEMAS)


def check_layer(table: Any, path: str = "layer", depth: int = 0) -> LayerSpec:
    """Validate one layer table (a dict from TOML) and return its :class:`LayerSpec`.

    Raises:
      Invalid (a ConfigError): not a table, no or unknown ``type`` (with the closest name), an
        unknown keyword (with the closest valid one), a missing required keyword, or a value of
        the wrong kind; the message starts with the key path.
    """
    if isinstance(table, LayerSpec):
        table = table.to_dict()
    if not isinstance(table, dict):
        raise Invalid(
            path,
            f'a layer must be a table like {{type = "Dense", out_dim = 10}}, got {table!r:.80}.',
        )
    kind = table.get("type")
    if kind is None:
        raise Invalid(
            path, f"the layer table has no 'type' key; valid types: {', '.join(LAYER_SCHEMAS)}."
        )
    if not isinstance(kind, str) or kind not in LAYER_SCHEMAS:
        raise Invalid(
            f"{path}.type",
            f"unknown layer type {kind!r}{did_you_mean(str(kind), list(LAYER_SCHEMAS))}; "
            f"valid: {', '.join(LAYER_SCHEMAS)}.",
        )
    schema = LAYER_SCHEMAS[kind]
    params: dict[str, Any] = {}
    for key, value in table.items():
        if key == "type":
            continue
        if key not in schema.kinds:
            accepted = ", ".join(schema.kinds) or "no keywords"
            raise Invalid(
                f"{path}.{key}",
                f"{kind} has no keyword {key!r}{did_you_mean(key, list(schema.kinds))}; it accepts: {accepted}.",
            )
        params[key] = schema.kinds[key](f"{path}.{key}", value, depth)
    missing = [k for k in schema.required if k not in params]
    if missing:
        raise Invalid(
            path,
            f"{kind} needs {', '.join(repr(k) for k in missing)}, e.g. "
            f'{{type = "{kind}", {missing[0]} = ...}}.',
        )
    return LayerSpec(kind, MappingProxyType(params))


def _build_initializer(spec: str | Mapping[str, Any]) -> initializers.Initializer:
    if isinstance(spec, str):
        return initializers.get(spec)
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    return initializers.get(spec["name"], **kwargs)


def build_layer(spec: LayerSpec | Mapping[str, Any], path: str = "layer") -> Layer:
    """One layer from a spec (or a raw table, validated first)."""
    if not isinstance(spec, LayerSpec):
        spec = check_layer(dict(spec), path)
    kwargs = dict(spec.params)
    for key in ("W_init", "b_init"):
        if key in kwargs:
            kwargs[key] = _build_initializer(kwargs[key])
    if spec.type == "Residual":
        body = [build_layer(s, f"{path}.layers[{i}]") for i, s in enumerate(kwargs.pop("layers"))]
        return L.Residual(*body)
    try:
        return LAYER_SCHEMAS[spec.type].factory(**kwargs)
    except ConfigError as e:
        raise Invalid(path, str(e)) from None
    except ValueError as e:  # a layer factory's own check (fnnet errors are ValueErrors too)
        raise Invalid(path, str(e)) from None


def build_model(layer_specs: Sequence[LayerSpec | Mapping[str, Any]]) -> Layer:
    """``serial`` of the layers, in order. Accepts :class:`LayerSpec`s or raw layer tables.

    Example::

        model = build_model([{"type": "Dense", "out_dim": 64}, {"type": "Tanh"},
                             {"type": "Dense", "out_dim": 10}])
        out_shape, params = model.init(jax.random.PRNGKey(0), (-1, 64))
    """
    if (
        isinstance(layer_specs, (str, bytes))
        or not isinstance(layer_specs, Sequence)
        or not layer_specs
    ):
        raise ConfigError(
            f"model.layers must be a non-empty list of layer tables, got {layer_specs!r:.80}."
        )
    return L.serial(*(build_layer(s, f"model.layers[{i}]") for i, s in enumerate(layer_specs)))
