"""Helpers shared by the update rules: construction-time checks, dtype casts, tree unzip.

Hyper-parameters may be Python numbers, concrete arrays, or traced JAX values (a population vmapped
over learning rates, ``optax.inject_hyperparams`` under ``jit``). Concrete values are checked here,
before anything is compiled; traced values cannot be inspected without a host round-trip, so their
checks are skipped and the caller owns their validity.
"""

from __future__ import annotations

from collections.abc import Iterable

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.errors import ConfigError, did_you_mean


def concrete(rule: str, name: str, value: object) -> float | None:
    """``float(value)`` for a concrete scalar, ``None`` for a traced one (checks then skipped)."""
    if isinstance(value, jax.core.Tracer):
        return None
    try:
        arr = np.asarray(value)
    except Exception as err:
        raise ConfigError(f"{rule}: {name} must be a real scalar, got {value!r}") from err
    if arr.shape != () or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ConfigError(
            f"{rule}: {name} must be a real scalar, got {value!r} (shape {arr.shape}, "
            f"dtype {arr.dtype}); pass a Python float or a 0-d array"
        )
    return float(arr)


def check(ok: bool, rule: str, message: str) -> None:
    """Raise ``ConfigError("<rule>: <message>")`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{rule}: {message}")


def closest(name: str, valid: Iterable[str]) -> str:
    """A ' (did you mean ...?)' hint (case-sensitive), or '' when nothing is close."""
    return did_you_mean(name, valid, ignore_case=False)


def leaf_cast(value, like: jax.Array) -> jax.Array:
    """A hyper-parameter as an array of ``like``'s dtype, so state dtypes follow params.

    ``optax.inject_hyperparams`` hands hyper-parameters over as arrays of the params' widest dtype;
    multiplying a float32 leaf by a float64 array would silently promote the state.
    """
    return jnp.asarray(value, dtype=like.dtype)


def scalar_dtype(params) -> jnp.dtype:
    """The widest floating dtype among the leaves of ``params`` (float32 for an empty tree)."""
    leaves = [leaf for leaf in jax.tree.leaves(params) if jnp.issubdtype(leaf.dtype, jnp.inexact)]
    return jnp.result_type(*leaves) if leaves else jnp.dtype(jnp.float32)


def unzip(like, out, n: int) -> tuple:
    """Split a tree whose leaves (at ``like``'s leaf positions) are n-tuples into n trees."""
    return tuple(jax.tree.map(lambda _, o, i=i: o[i], like, out) for i in range(n))
