"""Weight initialisers: ``init(key, shape, dtype) -> array``.

Fan sizes follow the usual convention: for a dense kernel of shape ``(in, out)`` fan_in = in and
fan_out = out; for a convolution kernel of shape ``(kh, kw, c_in, c_out)`` (HWIO) the receptive
field kh*kw multiplies both. Every initialiser is a pure function of its key.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from fnnet.errors import ConfigError, closest_name
from fnnet.typing import Array, PRNGKey, Shape

Initializer = Callable[..., Array]


def _fans(shape: Shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a kernel: (in, out) or (*receptive, in, out)."""
    if len(shape) < 2:
        n = int(shape[0]) if shape else 1
        return n, n
    receptive = math.prod(shape[:-2])
    return int(shape[-2]) * receptive, int(shape[-1]) * receptive


def zeros(key: PRNGKey, shape: Shape, dtype=jnp.float32) -> Array:
    """All zeros (the usual bias initialiser)."""
    del key
    return jnp.zeros(shape, dtype)


def ones(key: PRNGKey, shape: Shape, dtype=jnp.float32) -> Array:
    """All ones."""
    del key
    return jnp.ones(shape, dtype)


def constant(value: float) -> Initializer:
    """Every entry equal to ``value``."""

    def init(key: PRNGKey, shape: Shape, dtype=jnp.float32) -> Array:
        del key
        return jnp.full(shape, value, dtype)

    return init


def normal(stddev: float = 1e-2) -> Initializer:
    """w ~ N(0, stddev^2)."""
    if not stddev >= 0:
        raise ConfigError(f"normal(stddev={stddev}): stddev must be >= 0.")

    def init(key: PRNGKey, shape: Shape, dtype=jnp.float32) -> Array:
        return stddev * jax.random.normal(key, shape, dtype)

    return init


def uniform(scale: float = 1e-2) -> Initializer:
    """w ~ U(-scale, scale)."""
    if not scale >= 0:
        raise ConfigError(f"uniform(scale={scale}): scale must be >= 0.")

    def init(key: PRNGKey, shape: Shape, dtype=jnp.float32) -> Array:
        return jax.random.uniform(key, shape, dtype, -scale, scale)

    return init


def glorot_normal() -> Initializer:
    """Glorot & Bengio (2010): w ~ N(0, 2 / (fan_in + fan_out)) (plain, untruncated normal)."""

    def init(key: PRNGKey, shape: Shape, dtype=jnp.float32) -> Array:
        fan_in, fan_out = _fans(shape)
        return math.sqrt(2.0 / (fan_in + fan_out)) * jax.random.normal(key, shape, dtype)

    return init


def glorot_uniform() -> Initializer:
    """Glorot & Bengio (2010): w ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out))."""

    def init(key: PRNGKey, shape: Shape, dtype=jnp.float32) -> Array:
        fan_in, fan_out = _fans(shape)
        a = math.sqrt(6.0 / (fan_in + fan_out))
        return jax.random.uniform(key, shape, dtype, -a, a)

    return init


def he_normal() -> Initializer:
    """He et al. (2015), for ReLU: w ~ N(0, 2 / fan_in)."""

    def init(key: PRNGKey, shape: Shape, dtype=jnp.float32) -> Array:
        fan_in, _ = _fans(shape)
        return math.sqrt(2.0 / fan_in) * jax.random.normal(key, shape, dtype)

    return init


def he_uniform() -> Initializer:
    """He et al. (2015), for ReLU: w ~ U(-a, a), a = sqrt(6 / fan_in)."""

    def init(key: PRNGKey, shape: Shape, dtype=jnp.float32) -> Array:
        fan_in, _ = _fans(shape)
        a = math.sqrt(6.0 / fan_in)
        return jax.random.uniform(key, shape, dtype, -a, a)

    return init


def nielsen() -> Initializer:
    """Nielsen's network.py ("large weight initializer"): weights and biases ~ N(0, 1)."""
    return normal(1.0)


def nielsen_scaled() -> Initializer:
    """Nielsen's network2.py default: w ~ N(0, 1 / fan_in) (use ``nielsen()`` for its biases)."""

    def init(key: PRNGKey, shape: Shape, dtype=jnp.float32) -> Array:
        fan_in, _ = _fans(shape)
        return jax.random.normal(key, shape, dtype) / math.sqrt(fan_in)

    return init


_REGISTRY: dict[str, Callable[..., Initializer]] = {
    "zeros": lambda: zeros,
    "ones": lambda: ones,
    "constant": constant,
    "normal": normal,
    "uniform": uniform,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "nielsen": nielsen,
    "nielsen_scaled": nielsen_scaled,
}

NAMES = tuple(_REGISTRY)


def get(name: str, **kwargs) -> Initializer:
    """Build an initialiser by name, e.g. ``get("normal", stddev=0.1)`` (for configs)."""
    if name not in _REGISTRY:
        close = closest_name(name, NAMES)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ConfigError(f"unknown initializer {name!r}.{hint} Valid: {', '.join(NAMES)}.")
    try:
        return _REGISTRY[name](**kwargs)
    except TypeError as e:
        raise ConfigError(f"initializer {name!r}: bad arguments {kwargs}: {e}") from None
