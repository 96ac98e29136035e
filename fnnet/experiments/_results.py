"""The results JSON of an experiment: writing it, reading it back, and the environment record.

:func:`write_json` stores a run's results atomically after :func:`jsonable` has turned NumPy / JAX
scalars and arrays into Python numbers and lists (non-finite floats as the strings ``"inf"``,
``"-inf"``, ``"nan"``, since strict JSON has none); :func:`read_json` reads them back with those
strings restored to floats, which is what plots and tables are drawn from. :func:`environment`
records where the numbers were measured (versions, backend, device, CPU count, load, date).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np


def jsonable(obj: Any) -> Any:
    """``obj`` with NumPy / JAX scalars and arrays turned into Python numbers and lists.

    Non-finite floats become the strings ``"inf"``, ``"-inf"``, ``"nan"`` (strict JSON has none).
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (str, bool)) or obj is None:
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else str(f)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):  # numpy or jax array
        return jsonable(np.asarray(obj).tolist())
    raise TypeError(f"cannot store {type(obj).__name__} in the results JSON: {obj!r}")


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(jsonable(obj), indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)
    return path


_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _restore(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _restore(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_restore(v) for v in obj]
    if isinstance(obj, str) and obj in _NON_FINITE:
        return _NON_FINITE[obj]
    return obj


def read_json(path: Path) -> dict:
    """The results written by :func:`write_json`, with ``"inf"``/``"-inf"``/``"nan"`` as floats."""
    return _restore(json.loads(Path(path).read_text()))


def environment() -> dict[str, Any]:
    """Where the numbers were measured: versions, backend, device, CPU count, date."""
    import jax

    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
