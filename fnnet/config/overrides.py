"""``--set KEY=VALUE`` overrides: :func:`parse_override` reads one into a key path and a value (a
TOML value, else a plain string; an empty value is :data:`DELETE`), and :func:`apply_overrides`
applies them to a copy of a raw config table before it is validated, remembering which override
set which key so that errors can name it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from typing import Any

from fnnet.config.validate import _unfreeze
from fnnet.errors import ConfigError

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
