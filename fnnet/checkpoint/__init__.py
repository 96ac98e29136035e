"""Checkpoints: a training state (any JAX pytree) plus JSON metadata in one ``.npz`` file.

File format (version 1), one zip archive written by ``np.savez`` and read with
``allow_pickle=False`` only:

- ``leaf_00000`` ... : one ``.npy`` entry per pytree leaf, in ``tree_flatten_with_path`` order.
  Typed PRNG keys are stored as ``jax.random.key_data``; dtypes NumPy cannot name in an ``.npy``
  header (``bfloat16`` and friends) are stored as unsigned integers of the same width.
- ``__manifest__``: UTF-8 JSON as a ``uint8`` array: format version, fnnet version, step, treedef
  string, one record per leaf (``jax.tree_util.keystr`` path, entry name, kind, logical and stored
  dtype and shape), the user's metadata, and a SHA-256 checksum over the leaves (path, stored dtype
  and shape, then the raw bytes, in path order).
- ``__manifest_sha256__``: the SHA-256 of the manifest bytes, so metadata cannot change unnoticed.

Files are named ``ckpt_{step:09d}.npz``. ``save`` writes a hidden temp file in the same folder,
fsyncs it, renames it over the final name and fsyncs the folder, so a reader sees either the whole
new file or none of it. ``load`` checks the zip CRCs, both checksums, and the template's structure,
shapes and dtypes before it returns anything.

Assumes one writer per directory: ``save`` deletes stray temp files left by a killed writer.
"""

from __future__ import annotations

from fnnet.checkpoint.reader import list_checkpoints, load, load_latest, read_manifest
from fnnet.checkpoint.records import FORMAT_VERSION
from fnnet.checkpoint.writer import save

__all__ = [
    "FORMAT_VERSION",
    "list_checkpoints",
    "load",
    "load_latest",
    "read_manifest",
    "save",
]
