"""Writing a checkpoint: :func:`save` flattens the state into leaf entries and a manifest and
writes them atomically (temp file, fsync, rename, fsync of the folder), then prunes old files.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

import jax
import numpy as np

import fnnet
from fnnet.checkpoint.reader import list_checkpoints
from fnnet.checkpoint.records import (
    _MANIFEST,
    _MANIFEST_SHA,
    _TEMP_GLOB,
    FORMAT_VERSION,
    _describe,
    _first_non_finite,
    _json_default,
    _leaf_digest,
    _leaf_info,
    _to_stored,
)
from fnnet.errors import CheckpointError


def save(
    directory: str | os.PathLike[str],
    state: Any,
    *,
    step: int,
    metadata: dict[str, Any] | None = None,
    keep: int = 3,
) -> Path:
    """Writes ``state`` and ``metadata`` atomically to ``directory/ckpt_{step:09d}.npz``.

    Args:
      directory: folder of checkpoints (created if missing). One writer per folder.
      state: any pytree of arrays (any dtype, raw or typed PRNG keys) and Python numbers; nested
        dicts, tuples, lists, NamedTuples (optax states) and empty containers.
      step: the training step or epoch, ``>= 0``; it orders checkpoints. An existing file for the
        same step is replaced.
      metadata: JSON-serialisable dict (resolved config, metric history, epoch, fnnet version).
        NumPy/JAX scalars are stored as Python numbers; ``load`` returns it as ``json`` reads it
        back (tuples become lists).
      keep: how many of the newest checkpoints (by step) to keep, ``>= 1``; older ones are
        deleted after the new file is in place. The file just written is never deleted.

    Returns:
      The path of the new checkpoint.

    Raises:
      CheckpointError: a floating leaf holds NaN/Inf (nothing is written; the message names the
        first such leaf), a leaf has an unsupported type, or metadata is not JSON-serialisable.
    """
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise CheckpointError(f"step must be an int >= 0, got {step!r}.")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise CheckpointError(f"keep must be an int >= 1, got {keep!r}.")
    if metadata is not None and not isinstance(metadata, dict):
        raise CheckpointError(f"metadata must be a dict or None, got {type(metadata).__name__}.")
    step = int(step)
    directory = Path(directory)
    final = directory / f"ckpt_{step:09d}.npz"

    leaves_with_path, treedef = jax.tree_util.tree_flatten_with_path(state)
    arrays: dict[str, np.ndarray] = {}
    records = []
    digest = hashlib.sha256()
    for i, (keypath, leaf) in enumerate(leaves_with_path):
        path = jax.tree_util.keystr(keypath)
        info = _leaf_info(leaf, path)
        problem = _first_non_finite(leaf, info)
        if problem is not None:
            raise CheckpointError(
                f"refusing to write {final}: leaf {path} ({_describe(info)}) holds {problem}. "
                "A non-finite state cannot resume training; save the last finite state, or find "
                "where the NaN/Inf arises (jax.config.update('jax_debug_nans', True))."
            )
        stored = _to_stored(leaf, info, path)
        entry = f"leaf_{i:05d}"
        arrays[entry] = stored
        _leaf_digest(digest, path, stored)
        record = {"path": path, "entry": entry, **info}
        record |= {"stored_dtype": str(stored.dtype), "stored_shape": list(stored.shape)}
        if info["kind"] == "key":
            record["impl"] = str(jax.random.key_impl(leaf))
        records.append(record)

    manifest = {
        "format": "fnnet-checkpoint",
        "format_version": FORMAT_VERSION,
        "fnnet_version": fnnet.__version__,
        "step": step,
        "treedef": str(treedef),
        "leaves": records,
        "checksum": {"algorithm": "sha256", "hex": digest.hexdigest()},
        "metadata": {} if metadata is None else metadata,
    }
    try:
        manifest_bytes = json.dumps(manifest, default=_json_default).encode()
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"cannot write {final}: {e}.") from e
    arrays[_MANIFEST] = np.frombuffer(manifest_bytes, dtype=np.uint8)
    arrays[_MANIFEST_SHA] = np.frombuffer(hashlib.sha256(manifest_bytes).digest(), np.uint8)

    directory.mkdir(parents=True, exist_ok=True)
    for stray in directory.glob(_TEMP_GLOB):  # left by a writer killed mid-save
        stray.unlink(missing_ok=True)
    _write_atomically(final, arrays)
    for old in list_checkpoints(directory)[keep:]:
        if old != final:
            old.unlink(missing_ok=True)
    return final


def _write_atomically(final: Path, arrays: dict[str, np.ndarray]) -> None:
    """Temp file in the same folder -> fsync -> os.replace -> fsync the folder."""
    temp = final.parent / f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, allow_pickle=False, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
