"""The training state: one pytree that holds everything a step changes."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from fnnet.layers.base import Layer
from fnnet.typing import Params, PRNGKey, Shape


class TrainState(NamedTuple):
    """params: the model's pytree; opt_state: the optax rule's state; rng: the key used for
    shuffling (split once per epoch); step: number of updates applied (int32 scalar)."""

    params: Params
    opt_state: Any
    rng: PRNGKey
    step: jax.Array


def init_state(
    model: Layer,
    optimizer: optax.GradientTransformation,
    key: PRNGKey,
    input_shape: Shape,
    *,
    dtype: Any = None,
    params: Params | None = None,
) -> TrainState:
    """Initialise params from ``key`` (unless given) and the optimizer state.

    ``input_shape`` is per batch, as stax: e.g. ``(-1, 64)``. ``dtype`` casts floating params
    (e.g. ``jnp.float64`` for a float64 run).
    """
    k_params, k_data = jax.random.split(key)
    if params is None:
        _, params = model.init(k_params, tuple(input_shape))
    if dtype is not None:
        params = jax.tree_util.tree_map(lambda p: p.astype(dtype), params)
    return TrainState(params, optimizer.init(params), k_data, jnp.zeros((), jnp.int32))
