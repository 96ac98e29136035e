"""``fit``: the one place with Python control flow -- stopping rules, callbacks, timing."""

from __future__ import annotations

import collections
import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet.errors import ConfigError, NonFiniteError, ShapeError
from fnnet.layers.base import Layer
from fnnet.losses import Loss
from fnnet.train import sharding
from fnnet.train.epoch import STEP_METRICS, check_batch_size, detect_then_guard, make_epochs
from fnnet.train.state import TrainState, init_state
from fnnet.typing import Array, PRNGKey

Callback = Callable[[dict[str, float]], Any]


@dataclasses.dataclass
class FitResult:
    """state: the final TrainState (the best one with early stopping); history: one dict of
    floats per epoch run; stopped: why training ended ('max_epochs', 'target_loss',
    'early_stopping'); compile_seconds: time spent compiling in this call (0 when an earlier
    call with the same model, loss, optimizer objects, settings and shapes compiled it: fit keeps
    the last 32 programs); train_seconds: time of the compiled epochs and their bookkeeping."""

    state: TrainState
    history: list[dict[str, float]]
    stopped: str
    compile_seconds: float = 0.0
    train_seconds: float = 0.0

    @property
    def epochs(self) -> int:
        return len(self.history)


def _as_arrays(split: Any, name: str) -> tuple[Array, Array] | tuple[None, None]:
    if split is None:
        return None, None
    if not isinstance(split, (tuple, list)) or len(split) != 2:
        raise ShapeError(f"{name} must be a pair (x, t) of arrays, got {type(split).__name__}.")
    x, t = jnp.asarray(split[0]), jnp.asarray(split[1])
    if x.shape[0] != t.shape[0]:
        raise ShapeError(f"{name}: x has {x.shape[0]} patterns but t has {t.shape[0]}; they must match.")
    if x.shape[0] == 0:
        return None, None
    return x, t


def default_epochs_per_call(steps_per_epoch: int, epochs: int) -> int:
    """About 2,000 steps (and at most 100 epochs) per compiled call: few dispatches, a live
    progress bar."""
    return max(1, min(epochs, 100, math.ceil(2000 / steps_per_epoch)))


_COMPILED: collections.OrderedDict[Any, Any] = collections.OrderedDict()
_COMPILED_MAX = 32


def _signature(args: Any) -> Any:
    """What a compiled program depends on besides the static config: tree, shapes, dtypes, shardings."""
    leaves, treedef = jax.tree_util.tree_flatten(args)
    return treedef, tuple(
        (np.shape(a), jnp.result_type(a), getattr(a, "weak_type", False), getattr(a, "sharding", None))
        for a in leaves
    )


def _cache_get(key: Any) -> Any:
    try:
        executable = _COMPILED.get(key)
    except TypeError:  # an unhashable optimizer or sharding: compile every time
        return None
    if executable is not None:
        _COMPILED.move_to_end(key)
    return executable


def _cache_put(key: Any, executable: Any) -> None:
    try:
        _COMPILED[key] = executable
    except TypeError:
        return
    while len(_COMPILED) > _COMPILED_MAX:
        _COMPILED.popitem(last=False)


def fit(
    model: Layer,
    loss: Loss,
    optimizer: optax.GradientTransformation,
    train: tuple[Any, Any],
    *,
    key: PRNGKey | int = 0,
    epochs: int = 100,
    batch_size: int | None = None,
    grad: str = "manual",
    val: tuple[Any, Any] | None = None,
    target_loss: float | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    shuffle: bool = True,
    eval_train: bool = True,
    epochs_per_call: int | None = None,
    state: TrainState | None = None,
    dtype: Any = None,
    callback: Callback | None = None,
    mesh: Any = None,
    step_metrics: tuple[str, ...] = STEP_METRICS,
    unroll: int = 1,
) -> FitResult:
    """Train ``model`` on ``train = (x, t)`` and return the final state and per-epoch history.

    Shapes: x ``(n, ...)``, t ``(n, k)`` or integer ids ``(n,)``. ``batch_size`` None means full
    batch (n); 1 is online learning. Stopping rules: ``epochs`` (max), ``target_loss`` (stop when
    the error on the whole training set -- mean-reduced or summed as the loss defines it -- falls
    below it: the notes' "until global error < criterion"), ``patience`` (early stopping on
    ``val`` loss; the best state is returned). ``state`` resumes a previous run exactly.
    ``callback(record)`` is called after every epoch with that epoch's history record.
    ``mesh`` (a ``jax.sharding.Mesh``) trains data-parallel: each mini-batch is split across the
    mesh's devices, params and optimizer state are replicated (see ``fnnet.train.sharding``).
    ``step_metrics``: the per-step metrics averaged into each epoch's record (``"loss"``,
    ``"accuracy"``, ``"grad_norm"``; fewer is a little faster for small networks). ``unroll``:
    steps per iteration of the compiled loop (``lax.scan(unroll=)``).

    Speed: epochs run as one compiled program that only *detects* NaN/Inf (loss and gradient
    norm each step, parameters at the end); a chunk of epochs that met one is run again with a
    per-step guard, so the error names the step and holds the last good state.

    Deterministic for a given ``key``. Raises ``NonFiniteError`` (with ``.state``, the last good
    state, and ``.history``) at the first step with a NaN/Inf loss or gradient.
    """
    x, t = _as_arrays(train, "train")
    if x is None:
        raise ShapeError("train set is empty.")
    x_val, t_val = _as_arrays(val, "val")
    n = x.shape[0]
    if not isinstance(epochs, int) or epochs < 0:
        raise ConfigError(f"epochs={epochs!r} must be a non-negative integer.")
    if patience is not None and x_val is None:
        raise ConfigError("early stopping (patience) needs a validation set: pass val=(x_val, t_val).")
    batch_size = n if batch_size is None else batch_size
    check_batch_size(batch_size, n)
    if isinstance(key, int):
        key = jax.random.PRNGKey(key)
    if state is None:
        state = init_state(model, optimizer, key, (-1, *x.shape[1:]), dtype=dtype)
    batch_sharding = None
    if mesh is not None:
        sharding.check_divisible(batch_size, mesh)
        batch_sharding = sharding.batch_sharding(mesh)
        state, x, t, x_val, t_val = sharding.place((state, x, t, x_val, t_val), mesh)
    steps = n // batch_size
    chunk = 1 if patience is not None else (epochs_per_call or default_epochs_per_call(steps, max(epochs, 1)))

    eval_flag = eval_train or target_loss is not None
    config = (model, loss, optimizer, n, batch_size, grad, shuffle, target_loss, eval_flag,
              batch_sharding, unroll, tuple(step_metrics))

    def call(guard: str, n_epochs: int, *args):
        """Run the compiled chunk, compiling it (once per process) on first use."""
        nonlocal compile_s
        key = (*config, guard, n_epochs, _signature(args))
        executable = _cache_get(key)
        if executable is None:
            run = make_epochs(
                model, loss, optimizer, n_train=n, batch_size=batch_size, grad=grad, shuffle=shuffle,
                target_loss=target_loss, eval_train=eval_flag, batch_sharding=batch_sharding,
                guard=guard, unroll=unroll, step_metrics=step_metrics,
            )
            t0 = time.perf_counter()
            executable = jax.jit(run, static_argnames="n_epochs").lower(*args, n_epochs=n_epochs).compile()
            compile_s += time.perf_counter() - t0
            _cache_put(key, executable)
        return executable(*args)

    # Each chunk: the program that only detects NaN/Inf; a chunk that met one is run again from
    # its input state with the per-step guard (compiled then), which stops at the last good state.
    history: list[dict[str, float]] = []
    done = jnp.array(False)
    best = (math.inf, None, 0)  # (val loss, state, epoch)
    stopped, compile_s, train_s = "max_epochs", 0.0, 0.0
    epoch0 = 0
    while len(history) < epochs and stopped == "max_epochs":
        n_epochs = chunk if epochs - len(history) >= chunk else 1
        t0 = time.perf_counter()
        args = (state, done, x, t, x_val, t_val)
        state, done, metrics = detect_then_guard(lambda guard: call(guard, n_epochs, *args))  # noqa: B023
        dt = time.perf_counter() - t0
        train_s += dt
        ran = int(np.asarray(metrics["active"]).sum())
        # One host pass over the chunk's arrays (not one per epoch): per-epoch finiteness, and
        # each metric as a list of Python floats.
        finite = np.asarray(metrics["finite"][:ran])
        epoch_ok = finite.all(axis=tuple(range(1, finite.ndim)))
        columns = {
            k: np.asarray(v[:ran], dtype=np.float64).tolist()
            for k, v in metrics.items()
            if k not in ("finite", "active")
        }
        for e in range(ran):
            if not epoch_ok[e]:
                bad_step = int(np.argmin(finite[e]))
                raise NonFiniteError(
                    f"non-finite loss or gradient at epoch {epoch0 + e + 1}, step {bad_step + 1} of "
                    f"{steps} (update {int(state.step) + 1}). Training stopped with the last good "
                    "state. Likely causes: a learning rate too large for this loss (try 10x "
                    "smaller), NaN/Inf in the data, or class ids outside [0, k) (k = output units).",
                    state=state, history=history,
                )
            record = {"epoch": float(epoch0 + e + 1)}
            record.update({k: column[e] for k, column in columns.items()})
            record["seconds"] = dt / max(ran, 1)
            record["examples_per_s"] = steps * batch_size * ran / dt if dt > 0 else float("nan")
            history.append(record)
            if callback is not None:
                callback(record)
            if patience is not None:
                v = record["val_loss"]
                if v < best[0] - min_delta:
                    best = (v, jax.tree_util.tree_map(jnp.copy, state), len(history))
                elif len(history) - best[2] >= patience:
                    stopped = "early_stopping"
                    break
        epoch0 += ran
        if ran < n_epochs or (target_loss is not None and bool(done)):
            stopped = "target_loss" if stopped == "max_epochs" else stopped
            break
    if stopped == "early_stopping" and best[1] is not None:
        state = best[1]
    return FitResult(state, history, stopped, compile_s, train_s)
