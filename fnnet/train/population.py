"""Populations: K networks -- different seeds and/or hyper-parameters -- trained at once.

One compiled program: ``vmap`` over members of (init from the member's key, build the optimizer
from the member's hyper-parameters, run every epoch with ``lax.scan``). Each member stops on its
own when it reaches the target error (its state freezes), so ``epochs_to_target`` is exact.
NaN/Inf: the program first only detects them; if a member met one, the population is trained
again with the per-step guard, so a diverged member is held at its last good state and flagged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet.errors import ConfigError
from fnnet.layers.base import Layer
from fnnet.losses import Loss
from fnnet.train.epoch import detect_then_guard, make_epochs
from fnnet.train.state import TrainState, init_state
from fnnet.typing import Array


@dataclasses.dataclass
class PopulationResult:
    """states: TrainState with a leading member axis K; history: per-epoch metric arrays of
    shape (K, epochs); epochs_to_target: (K,) epochs until the target was reached (-1 if never)."""

    states: TrainState
    history: dict[str, np.ndarray]
    epochs_to_target: np.ndarray

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.epochs_to_target >= 0))


def train_population(
    model: Layer,
    loss: Loss,
    make_optimizer: Callable[..., optax.GradientTransformation],
    train: tuple[Any, Any],
    *,
    keys: Array,
    hparams: Mapping[str, Any] | None = None,
    epochs: int,
    batch_size: int | None = None,
    grad: str = "manual",
    target_loss: float | None = None,
    val: tuple[Any, Any] | None = None,
    shuffle: bool = True,
    dtype: Any = None,
) -> PopulationResult:
    """Train K = len(keys) members; member i uses ``keys[i]`` and ``make_optimizer(**{name:
    hparams[name][i]})``. Hyper-parameter values arrive as traced scalars, so the rule must accept
    arrays (every fnnet.optim rule and optax's do).

    Example: 100 seeds of XOR with momentum at 4 learning rates -> keys of length 400 and
    ``hparams={"learning_rate": jnp.repeat(jnp.array([.1, .3, 1, 3]), 100)}``.
    """
    keys = jnp.asarray(keys)
    k = keys.shape[0]
    hparams = {name: jnp.asarray(v) for name, v in (hparams or {}).items()}
    for name, v in hparams.items():
        if v.shape[:1] != (k,):
            raise ConfigError(f"hparams[{name!r}] has shape {v.shape}; it needs one value per member: ({k},).")
    x, t = jnp.asarray(train[0]), jnp.asarray(train[1])
    x_val, t_val = (None, None) if val is None else (jnp.asarray(val[0]), jnp.asarray(val[1]))
    batch_size = x.shape[0] if batch_size is None else batch_size

    def program(guard: str):
        def member(key, hp):
            optimizer = make_optimizer(**hp)
            run = make_epochs(
                model, loss, optimizer, n_train=x.shape[0], batch_size=batch_size, grad=grad,
                shuffle=shuffle, target_loss=target_loss, guard=guard,
                gather="step",  # per-member copies of the data would be K times its size
            )
            state = init_state(model, optimizer, key, (-1, *x.shape[1:]), dtype=dtype)
            state, _, metrics = run(state, jnp.array(False), x, t, x_val, t_val, n_epochs=epochs)
            return state, metrics

        return jax.jit(jax.vmap(member))

    # As in fit: if any member met NaN/Inf, the population is trained again with the per-step
    # guard, which holds each diverged member at its last good state.
    states, metrics = detect_then_guard(lambda guard: program(guard)(keys, hparams))
    active = np.asarray(metrics.pop("active"))  # (K, epochs)
    finite = np.asarray(metrics.pop("finite"))
    ran = active.sum(axis=1)
    diverged = ~finite.reshape(k, -1).all(axis=1)
    reached = (ran < epochs) & ~diverged
    if target_loss is not None:
        last = np.asarray(metrics["train_loss"])[np.arange(k), np.maximum(ran - 1, 0)]
        reached |= (ran == epochs) & (last < target_loss) & ~diverged
    epochs_to_target = np.where(reached, ran, -1) if target_loss is not None else np.full(k, -1)
    history = {name: np.asarray(v) for name, v in metrics.items()}
    history["active"] = active
    history["diverged"] = diverged
    return PopulationResult(states, history, epochs_to_target)
