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
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet.errors import ConfigError
from fnnet.layers.base import Layer
from fnnet.losses import Loss
from fnnet.train.state import TrainState
from fnnet.train.step import accuracy, all_finite, make_unguarded_step
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


GUARDS: tuple[str, ...] = ("step", "detect")
STEP_METRICS: tuple[str, ...] = ("loss", "accuracy", "grad_norm")
GATHERS: tuple[str, ...] = ("auto", "epoch", "step")
# "auto": gather per step once an epoch's shuffled copy of (x, t) would exceed this (measured on
# W1, 2-core CPU: at 16 MB one copy plus slices is ~10% faster, at 157 MB both are equal).
GATHER_PER_STEP_BYTES = 64 * 2**20


def detect_then_guard(run):
    """``run(guard) -> (..., metrics)``: run the cheap ``"detect"`` program; if it met NaN/Inf, run
    the same inputs again with the per-step ``"step"`` guard (last good state, the bad step).
    Returns that call's outputs with the metrics fetched to the host (one transfer per call)."""
    *out, metrics = run("detect")
    metrics = jax.device_get(metrics)
    if not np.all(np.asarray(metrics["finite"])):
        *out, metrics = run("step")
        metrics = jax.device_get(metrics)
    return (*out, metrics)


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
    guard: str = "step",
    unroll: int = 1,
    step_metrics: tuple[str, ...] = STEP_METRICS,
    gather: str = "auto",
):
    """``run(state, done, x, t, x_val, t_val, n_epochs) -> (state, done, metrics)``, pure.

    Shapes: x ``(n_train, ...)``, t ``(n_train, ...)``; ``x_val``/``t_val`` may be None.
    ``metrics`` holds per-epoch arrays of shape ``(n_epochs,)`` -- ``loss`` / ``accuracy`` /
    ``grad_norm`` (means over the epoch's steps), ``train_loss`` / ``train_accuracy`` (the whole
    training set after the epoch, the notes' global error; only with ``eval_train``),
    ``val_loss`` / ``val_accuracy``, ``active`` (the epoch ran: not yet done) -- and ``finite``.

    Non-finite values, ``guard``:

    - ``"step"``: from the first step whose loss, gradient or updated parameters are NaN/Inf, the
      state stays as it was before that step and ``done`` is set; ``finite`` has shape
      ``(n_epochs, steps_per_epoch)`` and marks the step. One select over the state per step.
    - ``"detect"``: no per-step select. Each step's loss and gradient norm (when ``"grad_norm"``
      is in ``step_metrics``), and the parameters and optimizer state at the end of the call, are
      checked; ``finite`` has shape ``(n_epochs,)`` and is all False if anything was non-finite:
      the returned state is then unusable and ``done`` is set. Run the same call again with
      ``guard="step"`` from the same inputs (the batches are the same) for the last good state and
      the step. ``fit`` does this; the common, finite case is cheaper. Without ``"grad_norm"`` a
      NaN/Inf gradient is caught where it lands (the next loss, the parameters or the optimizer
      state), so one that leaves no trace -- an Inf slope that Rprop reads only as a sign and
      overwrites at the next step -- goes unreported.

    ``gather`` (with ``shuffle``): ``"epoch"`` copies the shuffled training set once per epoch and
    slices it per step; ``"step"`` has each step gather its own rows (no copy: memory stays at the
    data's size, and a vmapped population does not make K copies); ``"auto"`` picks ``"step"``
    when the epoch's copy would exceed ``GATHER_PER_STEP_BYTES`` (64 MiB). Same batches either way.

    ``step_metrics``: which per-step metrics to average per epoch (``"loss"`` is required;
    ``"accuracy"`` only for classification losses); the others are not computed.

    ``unroll``: steps per iteration of the compiled loop (``lax.scan(unroll=)``); > 1 saves loop
    overhead for small networks on CPU at the cost of compile time.

    ``batch_sharding``: a ``jax.sharding.Sharding`` for a ``(steps, batch, ...)`` array, e.g.
    ``NamedSharding(mesh, P(None, "data"))``, to run data-parallel (see ``fnnet.train.sharding``).
    """
    check_batch_size(batch_size, n_train)
    if guard not in GUARDS:
        raise ConfigError(f"guard={guard!r} must be one of {GUARDS}.")
    if not isinstance(unroll, int) or isinstance(unroll, bool) or unroll < 1:
        raise ConfigError(f"unroll={unroll!r} must be a positive integer (1 = no unrolling).")
    if gather not in GATHERS:
        raise ConfigError(f"gather={gather!r} must be one of {GATHERS}.")

    def gathers_per_step(x, t) -> bool:
        if gather != "auto":
            return gather == "step"
        row_bytes = sum(math.prod(a.shape[1:]) * a.dtype.itemsize for a in (x, t))  # static shapes
        return steps * batch_size * row_bytes > GATHER_PER_STEP_BYTES

    unknown = set(step_metrics) - set(STEP_METRICS)
    if unknown or "loss" not in step_metrics:
        raise ConfigError(
            f"step_metrics={tuple(step_metrics)!r}: must contain 'loss' and only names from {STEP_METRICS}."
        )
    steps = n_train // batch_size
    step = make_unguarded_step(model, loss, optimizer, grad, check_params=guard == "step")

    keep = {"finite", *step_metrics}

    def guarded_step(carry, batch):
        """The step with one sticky guard: after the first non-finite step nothing changes."""
        state, ok = carry
        new, m = step(state, batch)
        ok = ok & m["finite"]
        new = jax.tree_util.tree_map(lambda n, o: jnp.where(ok, n, o), new, state)
        return (new, ok), {k: v for k, v in m.items() if k in keep}

    # detect mode checks the per-step values it records anyway: the gradient norm only when it
    # is a metric (otherwise a NaN/Inf gradient is caught where it lands: in the loss of the next
    # step, the parameters or the optimizer state, checked at the end of the call).
    checked = tuple(k for k in ("loss", "grad_norm") if k in step_metrics)

    def checked_step(carry, batch):
        """The step as it is; its loss and gradient norm are checked after the scan."""
        state, ok = carry
        new, m = step(state, batch)
        return (new, ok), {k: v for k, v in m.items() if k in keep or k in checked}

    def batches(rng, x, t):
        """What the step scan runs over: ``(x_batches, t_batches)`` of shape ``(steps, batch, ...)``,
        or, when each step gathers its own rows, only the ``(steps, batch)`` indices."""
        if shuffle:
            idx = jax.random.permutation(rng, n_train)[: steps * batch_size].reshape(steps, batch_size)
            if batch_sharding is None and gathers_per_step(x, t):
                return idx
            xb, tb = jnp.take(x, idx, axis=0), jnp.take(t, idx, axis=0)
        else:  # consecutive batches: a slice and a reshape, no gather
            cut = lambda a: a[: steps * batch_size].reshape(steps, batch_size, *a.shape[1:])  # noqa: E731
            xb, tb = cut(x), cut(t)
        if batch_sharding is not None:
            xb = jax.lax.with_sharding_constraint(xb, batch_sharding)
            tb = jax.lax.with_sharding_constraint(tb, batch_sharding)
        return xb, tb

    def one_epoch(carry, _, x, t, x_val, t_val):
        state, done, ok = carry
        rng = state.rng
        if shuffle:  # a new key per epoch, none once done (the state stays as it was)
            rng_next, k_perm = jax.random.split(state.rng)
            rng = jnp.where(done, state.rng, rng_next)
        else:
            k_perm = None
        step_fn = guarded_step if guard == "step" else checked_step
        data = batches(k_perm, x, t)
        if isinstance(data, tuple):
            body = step_fn
        else:  # indices: gather this step's rows

            def body(carry, i):
                return step_fn(carry, (jnp.take(x, i, axis=0), jnp.take(t, i, axis=0)))

        (trained, ok_after), m = jax.lax.scan(
            body, (state._replace(rng=rng), ok), data, unroll=min(unroll, steps)
        )
        if target_loss is not None:  # done can change inside the call: freeze per epoch
            trained = jax.tree_util.tree_map(lambda old, n: jnp.where(done, old, n), state, trained)
        metrics = {k: jnp.mean(v) for k, v in m.items() if k != "finite"}
        if guard == "step":
            ok = jnp.where(done, ok, ok_after)
            metrics["finite"] = m["finite"] | done
        else:  # the stacked per-step values, checked once per epoch (no per-step flag)
            ok = ok_after & all_finite([m[k] for k in checked])
            metrics = {k: v for k, v in metrics.items() if k in keep}
        if guard == "step" or target_loss is not None:
            metrics["active"] = ~done
        if eval_train:
            ev = _evaluate(model, loss, trained.params, x, t)
            metrics.update({f"train_{k}": v for k, v in ev.items()})
        if x_val is not None:
            ev = _evaluate(model, loss, trained.params, x_val, t_val)
            metrics.update({f"val_{k}": v for k, v in ev.items()})
        if target_loss is not None:
            reached = (metrics["train_loss"] if eval_train else metrics["loss"]) < target_loss
            done = done | reached
        if guard == "step":
            done = done | ~ok
        return (trained, done, ok), metrics

    def run(state: TrainState, done: Array, x, t, x_val, t_val, n_epochs: int):
        body = lambda c, i: one_epoch(c, i, x, t, x_val, t_val)
        (new, done_out, ok), metrics = jax.lax.scan(body, (state, done, jnp.array(True)), None, length=n_epochs)
        if target_loss is None:  # done can only come in (or from a non-finite step): one select
            new = jax.tree_util.tree_map(lambda old, n: jnp.where(done, old, n), state, new)
        if guard == "detect":
            ok = ok & all_finite((new.params, new.opt_state))
            metrics["finite"] = jnp.broadcast_to(ok | done, (n_epochs,))
            if target_loss is None:
                metrics["active"] = jnp.broadcast_to(~done, (n_epochs,))
            done_out = done_out | ~ok
        return new, done_out, metrics

    return run
