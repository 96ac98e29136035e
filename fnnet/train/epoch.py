"""Epochs as one compiled program: shuffle on device, cut into mini-batches, ``lax.scan`` the step.

Learning modes (the notes' vocabulary) are batch sizes:

- online learning: ``batch_size=1`` (one update per pattern, in a fresh random order each epoch);
- mini-batch learning: ``1 < batch_size < n``;
- full-batch (epoch / "batch") learning: ``batch_size=n`` (one update per epoch on E_TOTAL's gradient).

When ``n`` is not a multiple of ``batch_size`` the last ``n mod batch_size`` patterns of each
shuffled epoch are left out (a different subset each epoch), so every update sees a full batch and
the epoch compiles to a single scan.

Several epochs run inside one call (``lax.scan`` over epochs): a ``done`` flag freezes the state
from the epoch in which the target error is reached, so a stop is exact and per member under vmap.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax

from fnnet.errors import ConfigError
from fnnet.layers.base import Layer
from fnnet.losses import Loss
from fnnet.train.state import TrainState
from fnnet.train.step import accuracy, make_unguarded_step
from fnnet.typing import Array


def _evaluate(model: Layer, loss: Loss, params, x: Array, t: Array) -> dict[str, Array]:
    y = model.apply(params, x)
    out = {"loss": loss(y, t)}
    if loss.classification:
        out["accuracy"] = accuracy(y, t)
    return out


@functools.lru_cache(maxsize=64)
def _jitted_evaluate(model: Layer, loss: Loss):
    """One jitted evaluator per (model, loss), so repeated calls reuse its compilations."""
    return jax.jit(lambda p, x, t: _evaluate(model, loss, p, x, t))


def evaluate(model: Layer, loss: Loss, params, x: Array, t: Array) -> dict[str, float]:
    """Loss (and accuracy for classification) of ``params`` on a whole set, as Python floats."""
    return {k: float(v) for k, v in _jitted_evaluate(model, loss)(params, x, t).items()}


def check_batch_size(batch_size: int, n: int) -> None:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= n:
        raise ConfigError(
            f"batch_size={batch_size!r} must be an integer in [1, n_train={n}] "
            "(1 = online, n = full batch)."
        )


def make_epochs(
    model: Layer,
    loss: Loss,
    optimizer: optax.GradientTransformation,
    *,
    n_train: int,
    batch_size: int,
    grad: str = "manual",
    shuffle: bool = True,
    target_loss: float | None = None,
    eval_train: bool = True,
    batch_sharding: Any = None,
):
    """``run(state, done, x, t, x_val, t_val, n_epochs) -> (state, done, metrics)``, pure.

    Shapes: x ``(n_train, ...)``, t ``(n_train, ...)``; ``x_val``/``t_val`` may be None.
    ``metrics`` holds per-epoch arrays of shape ``(n_epochs,)`` -- ``loss`` / ``accuracy``
    (means over the epoch's steps), ``train_loss`` / ``train_accuracy`` (the whole training set
    after the epoch, the notes' global error; only with ``eval_train``), ``val_loss`` /
    ``val_accuracy``, ``active`` (the epoch ran: not yet done) -- and per-step ``finite`` of shape
    ``(n_epochs, steps_per_epoch)``.

    Non-finite guard: from the first step whose loss or gradient is NaN/Inf, the state stays
    as it was before that step and ``done`` is set; ``finite`` marks the step.

    ``batch_sharding``: a ``jax.sharding.Sharding`` for a ``(steps, batch, ...)`` array, e.g.
    ``NamedSharding(mesh, P(None, "data"))``, to run data-parallel (see ``fnnet.train.sharding``).
    """
    check_batch_size(batch_size, n_train)
    steps = n_train // batch_size
    step = make_unguarded_step(model, loss, optimizer, grad)

    def guarded_step(carry, batch):
        """The step with one sticky guard: after the first non-finite step nothing changes."""
        state, ok = carry
        new, m = step(state, batch)
        ok = ok & m["finite"]
        return (jax.tree_util.tree_map(lambda n, o: jnp.where(ok, n, o), new, state), ok), m

    def one_epoch(carry, _, x, t, x_val, t_val):
        state, done, ok = carry
        rng, k_perm = jax.random.split(state.rng)
        if shuffle:
            idx = jax.random.permutation(k_perm, n_train)[: steps * batch_size].reshape(steps, batch_size)
            xb, tb = jnp.take(x, idx, axis=0), jnp.take(t, idx, axis=0)
        else:  # consecutive batches: a slice and a reshape, no gather
            cut = lambda a: a[: steps * batch_size].reshape(steps, batch_size, *a.shape[1:])  # noqa: E731
            xb, tb = cut(x), cut(t)
        if batch_sharding is not None:
            xb = jax.lax.with_sharding_constraint(xb, batch_sharding)
            tb = jax.lax.with_sharding_constraint(tb, batch_sharding)
        (trained, ok_after), m = jax.lax.scan(guarded_step, (state._replace(rng=rng), ok), (xb, tb))
        new = jax.tree_util.tree_map(lambda old, n: jnp.where(done, old, n), state, trained)
        ok = jnp.where(done, ok, ok_after)
        metrics = {k: jnp.mean(v) for k, v in m.items() if k != "finite"}
        metrics["finite"] = m["finite"] | done
        metrics["active"] = ~done
        if eval_train:
            ev = _evaluate(model, loss, new.params, x, t)
            metrics.update({f"train_{k}": v for k, v in ev.items()})
        if x_val is not None:
            ev = _evaluate(model, loss, new.params, x_val, t_val)
            metrics.update({f"val_{k}": v for k, v in ev.items()})
        if target_loss is not None:
            reached = (metrics["train_loss"] if eval_train else metrics["loss"]) < target_loss
            done = done | reached
        return (new, done | ~ok, ok), metrics

    def run(state: TrainState, done: Array, x, t, x_val, t_val, n_epochs: int):
        body = lambda c, i: one_epoch(c, i, x, t, x_val, t_val)  # noqa: E731
        (state, done, _), metrics = jax.lax.scan(body, (state, done, jnp.array(True)), None, length=n_epochs)
        return state, done, metrics

    return run
