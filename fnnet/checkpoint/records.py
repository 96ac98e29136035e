"""The file format's constants and the per-leaf records of a checkpoint: what kind, dtype and
shape a leaf has, how it is stored in its ``.npy`` entry, whether it is finite, and the SHA-256
over it; plus :class:`_CorruptError`, the error for a damaged file.
"""

from __future__ import annotations

import cmath
import json
import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.errors import CheckpointError

FORMAT_VERSION = 1
_MANIFEST = "__manifest__"
_MANIFEST_SHA = "__manifest_sha256__"
_NAME_RE = re.compile(r"^ckpt_(\d{9,})\.npz$")
_TEMP_GLOB = ".ckpt_*.tmp"
_PY_SCALARS = {bool: "bool", int: "int", float: "float", complex: "complex"}
_SCALAR_KINDS = {"bool": "b", "int": "iu", "float": "f", "complex": "c"}  # numpy dtype.kind
_PY_TYPES = {v: k for k, v in _PY_SCALARS.items()}


class _CorruptError(CheckpointError):
    """The file itself is damaged (``load_latest`` falls back past these, not past mismatches)."""


# ----------------------------------------------------------------------------- leaf records


def _leaf_info(leaf: Any, path: str) -> dict[str, Any]:
    """Kind, dtype and shape of a state or template leaf (no data)."""
    if type(leaf) in _PY_SCALARS:
        kind = _PY_SCALARS[type(leaf)]
        return {"kind": kind, "dtype": kind, "shape": []}
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):  # jax/np arrays, ShapeDtypeStruct
        is_key = jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)
        kind = "key" if is_key else "array"
        return {"kind": kind, "dtype": str(leaf.dtype), "shape": list(leaf.shape)}
    raise CheckpointError(
        f"leaf {path} has type {type(leaf).__name__}; a checkpoint holds arrays, PRNG keys and "
        "Python bool/int/float/complex only. Keep other objects out of the state (in the config "
        "or the metadata)."
    )


def _describe(info: dict[str, Any]) -> str:
    if info["kind"] in _SCALAR_KINDS:
        return f"Python {info['kind']}"
    shape = ",".join(str(d) for d in info["shape"])
    prefix = "typed PRNG key " if info["kind"] == "key" else ""
    return f"{prefix}{info['dtype']}[{shape}]"


def _to_stored(leaf: Any, info: dict[str, Any], path: str) -> np.ndarray:
    """The NumPy array written to the ``.npy`` entry for one leaf."""
    if info["kind"] == "key":
        return np.asarray(jax.random.key_data(leaf))
    arr = np.asarray(leaf)
    if info["kind"] in _SCALAR_KINDS and arr.dtype == object:
        raise CheckpointError(
            f"leaf {path} is the Python int {leaf}, which does not fit in int64; store it as a "
            "float or split it."
        )
    if arr.dtype.kind == "V":  # bfloat16, float8, int4 ...: .npy cannot name them
        arr = arr.view(f"u{arr.dtype.itemsize}")
    return arr if arr.flags.c_contiguous else arr.copy(order="C")  # keeps 0-d arrays 0-d


def _first_non_finite(leaf: Any, info: dict[str, Any]) -> str | None:
    """A description of the first NaN/Inf in a leaf, or None if it is all finite."""
    if info["kind"] in ("float", "complex"):
        return None if cmath.isfinite(leaf) else f"the value {leaf}"
    if info["kind"] != "array" or not jnp.issubdtype(leaf.dtype, jnp.inexact):
        return None
    arr = np.asarray(leaf)
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{int(bad.sum())} non-finite values (first at index {index}: {arr[index]})"


def _leaf_digest(h: Any, path: str, arr: np.ndarray) -> None:
    h.update(json.dumps([path, str(arr.dtype), list(arr.shape)]).encode())
    h.update(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.generic, np.ndarray, jax.Array)) and np.ndim(obj) == 0:
        return np.asarray(obj).item()
    raise TypeError(
        f"metadata holds a {type(obj).__name__} ({obj!r:.60}), which is not JSON-serialisable; "
        "convert it first (str(path), float(x), array.tolist())"
    )
