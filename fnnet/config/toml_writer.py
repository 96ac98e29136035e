"""Writing a config back: :func:`to_dict` turns a :class:`Config` into plain TOML-able data with
every default filled in, and :func:`to_toml` into TOML text that :func:`~fnnet.config.loads` reads
back to an equal config (the resolved config a run saves next to its results).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

from fnnet.config.schema import Config
from fnnet.config.validate import _unfreeze
from fnnet.errors import ConfigError


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
