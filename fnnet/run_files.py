"""Run-folder files: the names of the files and folders a run writes, a new timestamped run
folder (:func:`new_run_dir`), atomic text and strict-JSON writes, and the ``metrics.jsonl``
appender; the layout itself is described in :mod:`fnnet.runs`.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from fnnet.errors import ConfigError

__all__ = [
    "BEST",
    "CHECKPOINTS",
    "CONFIG_FILE",
    "LAST_GOOD",
    "METRICS_FILE",
    "SUMMARY_FILE",
    "new_run_dir",
]

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
CHECKPOINTS = "checkpoints"
BEST = "best"
LAST_GOOD = "last_good"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/Inf become null (strict JSON), NumPy scalars Python numbers."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_json(path: Path, data: Any) -> None:
    _atomic_write(path, json.dumps(_clean(data), indent=2, allow_nan=False) + "\n")


def new_run_dir(
    output_dir: str | os.PathLike[str], name: str, now: datetime.datetime | None = None
) -> Path:
    """Create ``output_dir/name/YYYYmmdd-HHMMSS`` (``-2``, ``-3``, ... if taken) and return it."""
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    parent = Path(output_dir).expanduser() / name
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"cannot create the output folder {parent}: {e.strerror or e}; set output_dir "
            "to a writable folder (--set output_dir=...)."
        ) from None
    for k in range(1, 10_000):
        run = parent / (stamp if k == 1 else f"{stamp}-{k}")
        try:
            run.mkdir()
            return run
        except FileExistsError:
            continue
    raise ConfigError(f"cannot find a free run folder name under {parent}.")


class _Metrics:
    """metrics.jsonl: one line per epoch, flushed at once (a killed run keeps what it wrote)."""

    def __init__(self, path: Path, history: list[dict[str, Any]]):
        _atomic_write(path, "".join(json.dumps(_clean(r), allow_nan=False) + "\n" for r in history))
        self._f = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def append(self, record: dict[str, Any]) -> None:
        self._f.write(json.dumps(_clean(record), allow_nan=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()
