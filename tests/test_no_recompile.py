"""No recompilation between epochs: ``fit`` compiles at most two executables (a chunk of
``epochs_per_call`` epochs and a one-epoch remainder), however many epochs it runs.

Compilations are counted with a ``jax.monitoring`` listener on the backend-compile event, which
fires once per XLA compilation (eager ops included), so nothing else may compile either.
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import layers as L
from fnnet import losses, optim
from fnnet.train import fit, init_state, make_epochs

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def compiles():
    names: list[str] = []

    def listener(event: str, duration: float, **kwargs) -> None:
        del duration
        if event == COMPILE_EVENT:
            names.append(kwargs.get("fun_name", "?"))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield names
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def _problem():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    t = rng.integers(0, 3, 32).astype(np.int32)
    model = L.serial(L.Dense(8), L.Tanh(), L.Dense(3))
    return model, (jnp.asarray(x), jnp.asarray(t))


def test_fit_compiles_at_most_two_executables_regardless_of_epochs():
    model, train = _problem()
    ce, sgd = losses.softmax_cross_entropy, optim.sgd(0.1)
    kw = {"key": 0, "batch_size": 8, "eval_train": False}
    fit(model, ce, sgd, train, epochs=1, epochs_per_call=1, **kw)  # warm-up: eager ops' first use

    counts = {}
    for epochs in (7, 301):  # 3-epoch chunks plus a 1-epoch remainder: 3 + 1 calls, then 101 calls
        fresh = optim.sgd(0.1)  # a new optimizer object: fit's program cache cannot serve it
        with compiles() as names:
            res = fit(model, ce, fresh, train, epochs=epochs, epochs_per_call=3, **kw)
        assert res.epochs == epochs
        assert len(names) == 2, names
        assert res.compile_seconds > 0
        counts[epochs] = len(names)
    assert counts[7] == counts[301], counts  # does not grow with the number of epochs


def test_fit_reuses_its_programs_across_calls():
    """A second fit with the same model, loss and optimizer objects, settings and shapes compiles
    nothing and gives the same result; another batch size compiles its own program."""
    model, train = _problem()
    ce, sgd = losses.softmax_cross_entropy, optim.sgd(0.1)
    kw = {"key": 0, "epochs": 5, "eval_train": False}
    first = fit(model, ce, sgd, train, batch_size=8, **kw)
    with compiles() as names:
        again = fit(model, ce, sgd, train, batch_size=8, **kw)
    assert names == [] and again.compile_seconds == 0.0
    np.testing.assert_array_equal(first.state.params[0]["W"], again.state.params[0]["W"])
    assert [h["loss"] for h in first.history] == [h["loss"] for h in again.history]
    with compiles() as names:
        other = fit(model, ce, sgd, train, batch_size=16, **kw)
    assert len(names) == 1 and other.compile_seconds > 0


def test_jitted_epochs_reuse_one_executable():
    model, (x, t) = _problem()
    sgd = optim.sgd(0.1)
    run = jax.jit(
        make_epochs(
            model, losses.softmax_cross_entropy, sgd, n_train=32, batch_size=8, eval_train=False
        ),
        static_argnames="n_epochs",
    )
    state = init_state(model, sgd, jax.random.PRNGKey(0), (-1, 4))
    done = jnp.array(False)
    state, done, _ = run(state, done, x, t, None, None, n_epochs=2)
    with compiles() as names:
        for _ in range(20):
            state, done, _m = run(state, done, x, t, None, None, n_epochs=2)
        jax.block_until_ready(state)
    assert names == []
    assert run._cache_size() == 1
    assert int(state.step) == 21 * 2 * 4
