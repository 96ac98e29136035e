"""sgd / momentum / nesterov: the lecture notes' rule, step for step equal to optax.sgd."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jax import lax

from fnnet.errors import ConfigError
from fnnet.optim import MomentumState, momentum, nesterov, sgd

T, N = 12, 4


def scan_updates(tx, grads):
    def body(state, g):
        u, state = tx.update(g, state)
        return state, u

    return lax.scan(body, tx.init(jnp.zeros_like(grads[0])), grads)[1]


@jax.jit
def run_pair(lr, alpha, grads):
    """(fnnet, optax) updates for classical and Nesterov momentum; lr, alpha traced."""
    return (
        scan_updates(momentum(lr, alpha), grads),
        scan_updates(optax.sgd(lr, momentum=alpha), grads),
        scan_updates(nesterov(lr, alpha), grads),
        scan_updates(optax.sgd(lr, momentum=alpha, nesterov=True), grads),
    )


@given(
    grads=hnp.arrays(np.float64, (T, N), elements=st.floats(-10.0, 10.0)),
    lr=st.floats(1e-4, 1.0),
    alpha=st.floats(0.0, 0.99),
)
def test_momentum_and_nesterov_equal_optax_sgd(grads, lr, alpha):
    fn_m, ox_m, fn_n, ox_n = run_pair(jnp.asarray(lr), jnp.asarray(alpha), jnp.asarray(grads))
    scale = max(1.0, float(np.max(np.abs(ox_m))), float(np.max(np.abs(ox_n))))
    np.testing.assert_allclose(fn_m, ox_m, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(fn_n, ox_n, rtol=0, atol=1e-12 * scale)


def test_lecture_values():
    # anchors.md 2.5: lr 0.1, alpha 0.9, g = 1 gives -0.1, -0.19, -0.271 (Nesterov -0.19, -0.271,
    # -0.3439); Δw(t) = -η g + α Δw(t-1).
    grads = jnp.ones((3, 1))
    np.testing.assert_allclose(scan_updates(momentum(0.1, 0.9), grads)[:, 0], [-0.1, -0.19, -0.271])
    np.testing.assert_allclose(
        scan_updates(nesterov(0.1, 0.9), grads)[:, 0], [-0.19, -0.271, -0.3439]
    )
    np.testing.assert_allclose(scan_updates(sgd(0.1), grads)[:, 0], [-0.1, -0.1, -0.1])


@jax.jit
def run_fixed(grads):
    return (
        scan_updates(momentum(0.05, 0.8), grads),
        scan_updates(sgd(0.05), grads),
        scan_updates(optax.sgd(0.05), grads),
    )


@given(grads=hnp.arrays(np.float64, (T, N), elements=st.floats(-10.0, 10.0)))
def test_momentum_recurrence_and_sgd(grads):
    lr, alpha = 0.05, 0.8
    updates, fn_sgd, ox_sgd = map(np.asarray, run_fixed(jnp.asarray(grads)))
    prev = np.zeros(N)
    for t in range(T):
        prev = -lr * grads[t] + alpha * prev
        np.testing.assert_allclose(updates[t], prev, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(fn_sgd, ox_sgd)


def test_state_holds_previous_change():
    tx = momentum(0.1, 0.5)
    state = tx.init({"w": jnp.zeros(2)})
    assert isinstance(state, MomentumState)
    u, state = tx.update({"w": jnp.array([1.0, -2.0])}, state)
    np.testing.assert_allclose(state.v["w"], u["w"])


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: sgd(0.0), "learning_rate must be > 0"),
        (lambda: momentum(-1.0), "learning_rate must be > 0"),
        (lambda: momentum(0.1, alpha=1.0), r"alpha must lie in \[0, 1\)"),
        (lambda: momentum(0.1, alpha=-0.1), r"alpha must lie in \[0, 1\)"),
        (lambda: momentum(0.1, nesterov="yes"), "nesterov must be a bool"),
        (lambda: nesterov(0.1, alpha=2.0), "nesterov: alpha"),
    ],
)
def test_validation(build, match):
    with pytest.raises(ConfigError, match=match):
        build()
