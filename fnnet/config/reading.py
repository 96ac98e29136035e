"""The entry points that read a config: :func:`load` (a file), :func:`loads` (TOML text) and
:func:`from_dict` (a raw table). Each applies the ``--set`` overrides, validates, and turns any
problem into a :class:`~fnnet.errors.ConfigError` naming the file or the ``--set`` responsible,
the key path and, for a TOML syntax error, the line.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fnnet.config.overrides import apply_overrides
from fnnet.config.schema import _MAX_BYTES, _NAME_RE, Config
from fnnet.config.validate import _validate
from fnnet.errors import ConfigError, did_you_mean
from fnnet.models import Invalid


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
            hint = did_you_mean(p.name, stems) if stems else ""
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
