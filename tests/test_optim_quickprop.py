"""Quickprop against a per-weight transcription of Fahlman (1988), and on an exact parabola."""

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
from reference.quickprop_reference import quickprop_reference

from fnnet.errors import ConfigError
from fnnet.optim import QuickpropState, quickprop

T, N = 14, 5


@jax.jit
def run_fnnet(eps, mu, decay, grads, w0):
    """Feed the slopes in `grads` (decay*w added by the rule), moving w by the updates."""
    tx = quickprop(eps, mu, decay)

    def body(carry, g):
        w, state = carry
        u, state = tx.update(g, state, w)
        return (optax.apply_updates(w, u), state), u

    return lax.scan(body, (w0, tx.init(w0)), grads)[1]


slopes = hnp.arrays(
    np.float64,
    (T, N),
    elements=st.one_of(st.just(0.0), st.floats(1e-3, 1e2), st.floats(-1e2, -1e-3)),
)


@given(
    grads=slopes,
    w0=hnp.arrays(np.float64, (N,), elements=st.floats(-2.0, 2.0)),
    eps=st.floats(1e-3, 1.0),
    mu=st.floats(1.1, 3.0),
    decay=st.sampled_from([0.0, 1e-4, 1e-2]),
)
def test_matches_fahlman_transcription(grads, w0, eps, mu, decay):
    ours = np.asarray(run_fnnet(eps, mu, decay, jnp.asarray(grads), jnp.asarray(w0)))
    ref = quickprop_reference(grads, w0, eps=eps, mu=mu, decay=decay)
    # XLA may contract a*b + c into one FMA, so the two can differ in the last bits. That is
    # harmless except at one discontinuity of the rule itself: "Δw(t-1) = 0 -> gradient step".
    # With decay, a constant slope makes S = g + decay*w an exact parabola, Quickprop lands on its
    # minimum, and whether S (hence Δw) there is exactly 0 or 1e-15 is decided by rounding. So
    # each weight is compared up to and including its first near-zero step.
    scale = max(1.0, float(np.max(np.abs(ref))), float(np.max(np.abs(w0))))
    tiny = 1e-9 * scale
    for i in range(N):
        near_zero = np.flatnonzero((np.abs(ref[:, i]) <= tiny) | (np.abs(ours[:, i]) <= tiny))
        stop = T if decay == 0.0 or near_zero.size == 0 else near_zero[0] + 1
        np.testing.assert_allclose(ours[:stop, i], ref[:stop, i], rtol=1e-9, atol=1e-12 * scale)


def test_hand_made_sequence():
    # eps = 0.1, mu = 1.75 (shrink = 7/11), slopes -6, -4.8, -1.74, 0.348:
    #   t0: no previous step          -> -eps S = 0.6
    #   t1: same sign, 4.8 >= 6*7/11   -> mu*0.6 + 0.48 = 1.53            (maximum growth)
    #   t2: same sign, 1.74 < 4.8*7/11 -> -1.74/(-4.8+1.74)*1.53 + 0.174 (parabola + gradient)
    #   t3: sign changed               -> 0.348/(-1.74-0.348)*dw2          (parabola alone)
    grads = np.array([[-6.0], [-4.8], [-1.74], [0.348]])
    dw2 = -1.74 / (-4.8 + 1.74) * 1.53 + 0.174
    expected = [0.6, 1.53, dw2, 0.348 / (-1.74 - 0.348) * dw2]
    ours = run_fnnet(0.1, 1.75, 0.0, jnp.asarray(grads), jnp.zeros(1))
    np.testing.assert_allclose(np.asarray(ours)[:, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(quickprop_reference(grads, [0.0], eps=0.1, mu=1.75)[:, 0], expected)


def test_jumps_to_the_minimum_of_a_parabola():
    # E = (w - 3)^2 is its own parabola: after the start-up steps Quickprop lands on w = 3.

    def loss(w):
        return jnp.sum((w - 3.0) ** 2)

    tx = quickprop(0.1)
    w = jnp.zeros(1)
    state = tx.init(w)
    trajectory = []
    for _ in range(5):
        u, state = tx.update(jax.grad(loss)(w), state)
        w = optax.apply_updates(w, u)
        trajectory.append(float(w[0]))
    np.testing.assert_allclose(trajectory[:3], [0.6, 2.13, 3.174], rtol=1e-12)
    assert abs(trajectory[3] - 3.0) < 1e-12


def test_decay_needs_params_and_enters_the_slope():
    tx = quickprop(0.5, decay=0.1)
    w = jnp.array([2.0])
    state = tx.init(w)
    assert isinstance(state, QuickpropState)
    with pytest.raises(ConfigError, match="needs the params"):
        tx.update(jnp.zeros(1), state)
    u, state = tx.update(jnp.zeros(1), state, w)
    np.testing.assert_allclose(u, [-0.5 * 0.1 * 2.0])  # S = 0 + decay*w
    np.testing.assert_allclose(state.S_prev, [0.2])


def test_no_params_needed_without_decay():
    tx = quickprop(0.5)
    state = tx.init({"a": jnp.zeros(2)})
    u, _ = tx.update({"a": jnp.ones(2)}, state)
    np.testing.assert_allclose(u["a"], [-0.5, -0.5])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"learning_rate": 0.0}, "learning_rate must be > 0"),
        ({"learning_rate": 0.1, "mu": 0.0}, "mu must be > 0"),
        ({"learning_rate": 0.1, "decay": -1e-4}, "decay must be >= 0"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        quickprop(**kwargs)
