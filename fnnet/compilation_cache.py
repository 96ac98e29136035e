"""JAX's persistent compilation cache, switched on for a run so the next run (and a resumed one)
skips recompiling: :func:`enable_compilation_cache` turns it on for the process,
:func:`compilation_cache` for a ``with`` block and restores JAX's settings afterwards.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import jax

__all__ = ["compilation_cache", "enable_compilation_cache"]


def enable_compilation_cache(path: str | os.PathLike[str] | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache, so runs (and resumed runs) skip recompiling.

    The folder is ``path``, else ``$FNNET_COMPILATION_CACHE``, else JAX's own
    ``jax_compilation_cache_dir`` if set, else ``$XDG_CACHE_HOME/fnnet/xla`` (``~/.cache``).
    ``FNNET_COMPILATION_CACHE=off`` turns it off. Returns the folder in use, or None.
    """
    env = os.environ.get("FNNET_COMPILATION_CACHE", "")
    if path is None and env.lower() in ("0", "off", "false", "no", "none"):
        return None
    current = jax.config.jax_compilation_cache_dir
    if path is None and not env and current:
        return Path(current)
    if path is None:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = env or Path(base) / "fnnet" / "xla"
    folder = Path(path).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a cache is an optimisation: without a writable folder, compile as usual
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


_CACHE_OPTIONS = (
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes",
)


@contextlib.contextmanager
def compilation_cache(path: str | os.PathLike[str] | None = None) -> Iterator[Path | None]:
    """:func:`enable_compilation_cache` for the duration of a ``with`` block; JAX's settings
    (and its cache state) are restored afterwards, so a library caller is left as it was."""
    before = {k: getattr(jax.config, k) for k in _CACHE_OPTIONS}
    folder = enable_compilation_cache(path)
    try:
        yield folder
    finally:
        if any(getattr(jax.config, k) != v for k, v in before.items()):
            from jax.experimental.compilation_cache import compilation_cache as jax_cc

            for k, v in before.items():
                jax.config.update(k, v)
            jax_cc.reset_cache()
