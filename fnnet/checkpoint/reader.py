"""Reading checkpoints: listing them, verifying a file (zip CRCs, manifest and leaf SHA-256,
format version), restoring its leaves into a template's structure (:func:`load`), and
:func:`load_latest`, which falls back past damaged files to the newest intact one.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import fnnet
from fnnet.checkpoint.records import (
    _MANIFEST,
    _MANIFEST_SHA,
    _NAME_RE,
    _PY_TYPES,
    _SCALAR_KINDS,
    FORMAT_VERSION,
    _CorruptError,
    _describe,
    _leaf_digest,
    _leaf_info,
)
from fnnet.errors import CheckpointError


def list_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """Checkpoint files ``ckpt_*.npz`` in ``directory``, newest (highest step) first.

    Temp files of an interrupted save are not listed. A missing directory gives ``[]``.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME_RE.match(p.name))]
    return [p for _, p in sorted(found, reverse=True) if p.is_file()]


def _open_verified(path: Path) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    """Opens the zip, checks every CRC and the manifest's own hash; returns (zip, manifest)."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist (or is not a file).")
    try:
        zf = zipfile.ZipFile(path)
    except Exception as e:  # BadZipFile, or anything a damaged central directory provokes
        raise _CorruptError(
            f"checkpoint {path} is not a readable zip archive ({type(e).__name__}: {e}); it is "
            "truncated, damaged, "
            "or not an fnnet checkpoint. Use an older checkpoint (load_latest does this)."
        ) from e
    try:
        bad = zf.testzip()  # reads every entry in 1 MiB chunks and checks its CRC-32
        if bad is not None:
            raise _CorruptError(
                f"checkpoint {path} is damaged: entry {bad} fails its CRC-32 or header check."
            )
        names = set(zf.namelist())
        if {_MANIFEST + ".npy", _MANIFEST_SHA + ".npy"} - names:
            raise _CorruptError(
                f"checkpoint {path} has no {_MANIFEST} entry: it was not written by "
                "fnnet.checkpoint.save, or it is damaged."
            )
        raw = _read_entry(zf, _MANIFEST).tobytes()
        if hashlib.sha256(raw).digest() != _read_entry(zf, _MANIFEST_SHA).tobytes():
            raise _CorruptError(f"checkpoint {path} is damaged: its manifest fails its SHA-256.")
        manifest = json.loads(raw.decode())
        if not isinstance(manifest, dict) or manifest.get("format") != "fnnet-checkpoint":
            raise _CorruptError(f"checkpoint {path} holds a manifest of an unknown format.")
    except BaseException as e:
        zf.close()
        if isinstance(e, CheckpointError) or not isinstance(e, Exception):
            raise
        raise _CorruptError(
            f"checkpoint {path} is damaged: {type(e).__name__}: {e}. Use an older checkpoint."
        ) from e
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        zf.close()
        raise CheckpointError(
            f"checkpoint {path} has format version {version!r}, written by fnnet "
            f"{manifest.get('fnnet_version')!r}; this fnnet ({fnnet.__version__}) reads format "
            f"version {FORMAT_VERSION}. Load it with the fnnet version that wrote it."
        )
    return zf, manifest


def _read_entry(zf: zipfile.ZipFile, name: str) -> np.ndarray:
    with zf.open(name + ".npy") as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a checkpoint (format/fnnet version, step, leaves, checksum, metadata).

    Checks the zip CRCs and the manifest's own SHA-256, not the leaves against a template.

    Raises:
      CheckpointError: the file is missing, not a zip, damaged, or of another format version.
    """
    zf, manifest = _open_verified(Path(path))
    zf.close()
    return manifest


def _read_leaves(path: Path, zf: zipfile.ZipFile, manifest: dict[str, Any]) -> list[np.ndarray]:
    """Reads the leaf entries and checks them against the manifest and its checksum."""
    try:
        records = manifest["leaves"]
        expected = {r["entry"] + ".npy" for r in records} | {
            _MANIFEST + ".npy",
            _MANIFEST_SHA + ".npy",
        }
        if set(zf.namelist()) != expected:
            raise _CorruptError(f"checkpoint {path} is damaged: entries differ from its manifest.")
        digest = hashlib.sha256()
        arrays = []
        for r in records:
            arr = _read_entry(zf, r["entry"])
            if str(arr.dtype) != r["stored_dtype"] or list(arr.shape) != r["stored_shape"]:
                raise _CorruptError(
                    f"checkpoint {path} is damaged: leaf {r['path']} holds {arr.dtype}"
                    f"{list(arr.shape)}, its manifest says {r['stored_dtype']}{r['stored_shape']}."
                )
            _leaf_digest(digest, r["path"], arr)
            arrays.append(arr)
        if digest.hexdigest() != manifest["checksum"]["hex"]:
            raise _CorruptError(f"checkpoint {path} is damaged: its leaves fail their SHA-256.")
        return arrays
    except CheckpointError:
        raise
    except Exception as e:
        raise _CorruptError(
            f"checkpoint {path} is damaged: {type(e).__name__}: {e}. Use an older checkpoint."
        ) from e


def _mismatch(path: Path, manifest: dict[str, Any], what: str) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {path} (step {manifest.get('step')}, fnnet {manifest.get('fnnet_version')}) "
        f"does not fit the template: {what}. The checkpoint belongs to another "
        "model or config (its metadata holds the config it was written with); load it with that "
        "config, or point to this run's own checkpoint folder."
    )


def _scalar_fits(scalar_kind: str, dtype_name: str, shape: list[int]) -> bool:
    """Whether a Python number of ``scalar_kind`` and a 0-d array of ``dtype_name`` may swap."""
    return shape == [] and jnp.dtype(dtype_name).kind in _SCALAR_KINDS[scalar_kind]


def _restore_leaf(path: Path, manifest: dict, r: dict, arr: np.ndarray, tmpl: Any) -> Any:
    """One restored leaf, shaped and typed like the template leaf ``tmpl``."""
    want = _leaf_info(tmpl, r["path"])
    found = f"leaf {r['path']}: expected {_describe(want)}, found {_describe(r)}"
    same = all(r[k] == want[k] for k in ("kind", "dtype", "shape"))
    if want["kind"] in _SCALAR_KINDS:  # a Python number stays one; a 0-d array of its kind fits
        if not same and not (
            r["kind"] == "array" and _scalar_fits(want["kind"], r["dtype"], r["shape"])
        ):
            raise _mismatch(path, manifest, found)
        return _PY_TYPES[want["kind"]](arr.item())
    if not same and not (
        want["kind"] == "array"
        and r["kind"] in _SCALAR_KINDS
        and _scalar_fits(r["kind"], want["dtype"], want["shape"])
    ):
        raise _mismatch(path, manifest, found)
    dtype = tmpl.dtype
    if want["kind"] == "key":
        value = jax.random.wrap_key_data(jnp.asarray(arr), impl=r["impl"])
    elif same:
        value = arr if arr.dtype == dtype else arr.view(dtype)  # bfloat16 & co. stored as uints
    else:  # a Python number into a 0-d array (a fresh step=0 vs a trained one): it must fit
        with np.errstate(over="ignore"):
            try:
                value = np.asarray(arr.item(), dtype=dtype)
            except OverflowError:
                value = np.asarray(np.inf)
        if not np.isfinite(value) or (r["kind"] == "int" and int(value) != arr.item()):
            raise _mismatch(path, manifest, f"{found} ({arr.item()} does not fit in {dtype})")
    sharding = getattr(tmpl, "sharding", None)
    if isinstance(tmpl, (jax.Array, jax.ShapeDtypeStruct)) and sharding is not None:
        return jax.device_put(value, sharding)
    return value if want["kind"] == "key" else jnp.asarray(value)


def load(path: str | os.PathLike[str], like: Any) -> tuple[Any, dict[str, Any]]:
    """Reads a checkpoint into the structure of the template ``like``.

    Args:
      path: a file written by :func:`save`.
      like: a template pytree with the structure, shapes and dtypes of the saved state, e.g. the
        freshly initialised state or ``jax.eval_shape`` of the init. Its leaves may be arrays,
        ``jax.ShapeDtypeStruct`` or Python numbers. Container types come from the template.

    Returns:
      ``(state, metadata)``. Array leaves come back as jax arrays with the template leaf's dtype
      (and its sharding when the template leaf has one); typed PRNG keys as typed keys; Python
      number leaves of the template stay Python numbers. A Python number in the template also
      accepts a 0-d array of the same kind from the file, and a 0-d template array a Python
      number (as a jitted step turns ``step=0`` into an array). Values are bit-identical.

    Raises:
      CheckpointError: the file is missing, truncated, not a zip, damaged (CRC, manifest or leaf
        SHA-256), of another format version, or does not fit ``like``: the message names the
        first differing leaf with the expected and the found dtype/shape.
    """
    path = Path(path)
    zf, manifest = _open_verified(path)
    with zf:
        arrays = _read_leaves(path, zf, manifest)
    records = manifest["leaves"]
    tmpl_with_path, treedef = jax.tree_util.tree_flatten_with_path(like)
    tmpl_paths = [jax.tree_util.keystr(p) for p, _ in tmpl_with_path]
    file_paths = [r["path"] for r in records]
    if tmpl_paths != file_paths:
        i = next(
            (i for i, (a, b) in enumerate(zip(tmpl_paths, file_paths, strict=False)) if a != b),
            min(len(tmpl_paths), len(file_paths)),
        )
        want = tmpl_paths[i] if i < len(tmpl_paths) else "(no more leaves)"
        got = file_paths[i] if i < len(file_paths) else "(no more leaves)"
        raise _mismatch(
            path,
            manifest,
            f"leaf #{i} is {want} in the template but {got} in the file (the template has "
            f"{len(tmpl_paths)} leaves, the file {len(file_paths)})",
        )
    leaves = [
        _restore_leaf(path, manifest, r, arr, tmpl)
        for r, arr, (_, tmpl) in zip(records, arrays, tmpl_with_path, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, leaves), manifest["metadata"]


def load_latest(
    directory: str | os.PathLike[str],
    like: Any,
    *,
    on_skip: Callable[[Path, str], None] | None = None,
) -> tuple[Path, Any, dict[str, Any]]:
    """Loads the newest intact checkpoint in ``directory``, skipping damaged ones.

    Args:
      directory: folder written by :func:`save`.
      like: template pytree, as for :func:`load`.
      on_skip: called as ``on_skip(path, reason)`` for each damaged (truncated, corrupt) file
        passed over; by default a ``UserWarning`` is issued.

    Returns:
      ``(path, state, metadata)`` of the newest checkpoint that loads.

    Raises:
      CheckpointError: the folder holds no checkpoint, none is intact (the message names each
        file tried and why), or an intact one does not fit ``like`` or has another format
        version (raised at once: an older file of the same run would not fit either).
    """
    tried = []
    for path in list_checkpoints(directory):
        try:
            state, metadata = load(path, like)
        except _CorruptError as e:
            tried.append(f"  {path.name}: {e}")
            if on_skip is None:
                warnings.warn(f"skipping damaged checkpoint: {e}", UserWarning, stacklevel=2)
            else:
                on_skip(path, str(e))
            continue
        return path, state, metadata
    if not tried:
        raise CheckpointError(
            f"no checkpoint (ckpt_*.npz) in {directory}; start from a fresh state or point to the "
            "run's checkpoint folder."
        )
    raise CheckpointError(
        f"no intact checkpoint in {directory}; tried, newest first:\n" + "\n".join(tried)
    )
