"""fnnet's side of the benchmark: ``fit`` (the user-facing API) and ``make_epochs`` jitted once."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from benchmarks.common import Runner, block, canonical_from_fnnet
from fnnet.train import fit, init_state, make_epochs

LOSS_ONLY = ("loss",)  # fit's per-step record when compared with a raw scan that keeps the loss only


def _start(model, optimizer, x, t, params0, key: int):
    """Device arrays and the common initial TrainState (``params0``, the optimizer's fresh state)."""
    x, t = jnp.asarray(x), jnp.asarray(t)
    return x, t, init_state(model, optimizer, jax.random.PRNGKey(key), (-1, *x.shape[1:]), params=params0)


def fit_runner(
    name: str,
    model,
    loss,
    optimizer,
    x,
    t,
    params0,
    *,
    key: int,
    epochs: int,
    batch_size: int,
    grad: str = "manual",
    shuffle: bool = True,
    epochs_per_call: int | None = None,
    step_metrics: tuple[str, ...] | None = None,
    note: str = "",
) -> Runner:
    """``fit(..., eval_train=False)`` from ``params0``; time = wall - fit's own compile_seconds.

    The warm-up call compiles (reported as compile_s: fit measures it); later calls reuse fit's
    cached program, as a user's repeated fit calls do. The time reported is the whole call but
    compilation: the compiled epochs plus fit's Python (argument checks, history records).
    ``step_metrics``: passed to fit (None: fit's default, loss + accuracy + gradient norm).
    """
    x, t, state0 = _start(model, optimizer, x, t, params0, key)

    def run():
        res = fit(
            model,
            loss,
            optimizer,
            (x, t),
            state=state0,
            epochs=epochs,
            batch_size=batch_size,
            grad=grad,
            shuffle=shuffle,
            eval_train=False,
            epochs_per_call=epochs_per_call,
            **({} if step_metrics is None else {"step_metrics": step_metrics}),
        )
        block(res.state)
        compiled.append(res.compile_seconds)
        return res

    compiled: list[float] = []

    return Runner(
        name,
        run=run,
        canonical=lambda res: canonical_from_fnnet(res.state.params),
        seconds=lambda res, wall: wall - res.compile_seconds,
        compile_s=lambda res: max(compiled),
        extra=lambda res: {"fit_train_seconds": res.train_seconds},
        note=note
        or (
            f"fit(eval_train=False, epochs_per_call={epochs_per_call or 'default'}"
            + (f", step_metrics={step_metrics}" if step_metrics else "")
            + ")"
        ),
        group="fnnet",
    )


def epochs_runner(
    name: str,
    model,
    loss,
    optimizer,
    x,
    t,
    params0,
    *,
    key: int,
    epochs: int,
    batch_size: int,
    grad: str = "manual",
    shuffle: bool = True,
    note: str = "",
) -> Runner:
    """``make_epochs`` jitted once and called per repeat: fnnet's compiled program, no fit overhead."""
    x, t, state0 = _start(model, optimizer, x, t, params0, key)
    run_epochs = make_epochs(
        model,
        loss,
        optimizer,
        n_train=x.shape[0],
        batch_size=batch_size,
        grad=grad,
        shuffle=shuffle,
        eval_train=False,
    )
    f = jax.jit(run_epochs, static_argnames="n_epochs")
    done = jnp.array(False)

    def run() -> Any:
        return block(f(state0, done, x, t, None, None, n_epochs=epochs))

    return Runner(
        name,
        run=run,
        canonical=lambda out: canonical_from_fnnet(out[0].params),
        note=note or "make_epochs, jit once",
        group="fnnet",
        hlo=lambda: f.lower(state0, done, x, t, None, None, n_epochs=epochs).compile().as_text(),
    )


def step_scan_runner(
    name: str,
    model,
    loss,
    optimizer,
    xs,
    ts,
    params0,
    *,
    grad: str = "manual",
    value_and_grad=None,
    note: str = "",
) -> Runner:
    """``fnnet.train.make_step`` scanned over pre-cut batches ``xs: (steps, batch, ...)``, jit once.

    Isolates the step (gradient + update + NaN guard + metrics) from epoch shuffling. With
    ``value_and_grad`` (``fn(params, x, t) -> (E, grads)``) a bare step is built instead:
    gradient and update only (used for the mixed-precision mode).
    """
    import optax

    from fnnet.train import make_step

    xs, ts = jnp.asarray(xs), jnp.asarray(ts)
    state0 = init_state(
        model, optimizer, jax.random.PRNGKey(0), (-1, *xs.shape[2:]), params=params0
    )
    if value_and_grad is None:
        step = make_step(model, loss, optimizer, grad)
    else:

        def step(state, batch):
            E, g = value_and_grad(state.params, *batch)
            u, o = optimizer.update(g, state.opt_state, state.params)
            return state._replace(
                params=optax.apply_updates(state.params, u), opt_state=o, step=state.step + 1
            ), {"loss": E}

    def unit(state, xs, ts):
        state, m = jax.lax.scan(step, state, (xs, ts))
        return state, m["loss"]

    f = jax.jit(unit)
    return Runner(
        name,
        run=lambda: block(f(state0, xs, ts)),
        canonical=lambda out: canonical_from_fnnet(out[0].params),
        loss_of=lambda out: out[1][-1],
        note=note,
        group="fnnet",
        hlo=lambda: f.lower(state0, xs, ts).compile().as_text(),
    )
