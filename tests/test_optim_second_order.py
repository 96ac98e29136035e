"""Levenberg-Marquardt, L-BFGS (optax) and BFGS (jax.scipy) on small full-batch problems."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax

from fnnet.errors import ConfigError
from fnnet.optim import (
    LM_STOP_REASONS,
    LMResult,
    bfgs,
    lbfgs,
    levenberg_marquardt,
    lm_step,
    minimize_lbfgs,
)

X_XOR = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
T_XOR = jnp.array([[0.0], [1.0], [1.0], [0.0]])
SEEDS = 10


def mlp_221(params, x):
    """A 2-2-1 sigmoid network, x: (batch, 2) -> (batch, 1). Written inline on purpose."""
    h = jax.nn.sigmoid(x @ params["W1"] + params["b1"][None, :])
    return jax.nn.sigmoid(h @ params["W2"] + params["b2"][None, :])


def init_221(key):
    k1, k2 = jax.random.split(key)
    return {
        "W1": jax.random.normal(k1, (2, 2)),
        "b1": jnp.zeros(2),
        "W2": jax.random.normal(k2, (2, 1)),
        "b2": jnp.zeros(1),
    }


def xor_residuals(params):
    return mlp_221(params, X_XOR) - T_XOR  # (4, 1)


def xor_sse(params):
    return jnp.sum(xor_residuals(params) ** 2)


@jax.jit
def lm_population(params):
    return jax.vmap(lambda p: levenberg_marquardt(xor_residuals, p, max_iter=100, goal=1e-3))(
        params
    )


@jax.jit
def gd_population(params, lr):
    def train(p):
        def body(p, _):
            return jax.tree.map(lambda w, g: w - lr * g, p, jax.grad(xor_sse)(p)), None

        return xor_sse(lax.scan(body, p, None, length=1000)[0])

    return jax.vmap(train)(params)


def test_lm_fits_xor_far_faster_than_gradient_descent():
    params = jax.vmap(init_221)(jax.random.split(jax.random.key(0), SEEDS))
    result = lm_population(params)
    assert isinstance(result, LMResult)
    reached = np.asarray(result.sse) < 1e-3
    assert reached.sum() >= 0.7 * SEEDS  # most seeds; the rest sit in XOR's local minima
    assert np.all(np.asarray(result.iterations)[reached] <= 30)
    assert np.all(np.asarray(result.status)[reached] == LM_STOP_REASONS.index("goal"))
    # SSE never increases: a step is only taken when it lowers E.
    history = np.asarray(result.history)
    for row, n in zip(history, np.asarray(result.iterations), strict=True):
        assert np.all(np.diff(row[: n + 1]) < 0)
        assert np.all(np.isnan(row[n + 1 :]))
    # Plain gradient descent from the same starts, 1000 full-batch steps (10x LM's budget, each
    # far cheaper, but): not one seed reaches the goal.
    gd = np.asarray(gd_population(params, 0.5))
    assert np.all(gd > 1e-3)


def test_lm_solves_linear_least_squares_in_one_step():
    key1, key2 = jax.random.split(jax.random.key(1))
    A = jax.random.normal(key1, (20, 3))
    b = jax.random.normal(key2, (20,))

    def residuals(p):
        return A @ p["w"] + p["c"] - b

    result = levenberg_marquardt(residuals, {"w": jnp.zeros(3), "c": jnp.zeros(())}, mu=1e-8)
    design = jnp.concatenate([A, jnp.ones((20, 1))], axis=1)
    exact = jnp.linalg.lstsq(design, b)[0]
    np.testing.assert_allclose(result.params["w"], exact[:3], rtol=1e-6)
    np.testing.assert_allclose(result.params["c"], exact[3], rtol=1e-6)
    assert int(result.iterations) <= 3
    assert LM_STOP_REASONS[int(result.status)] in ("min_grad", "mu_max")


def test_lm_step_is_jittable_and_adapts_mu():
    params = init_221(jax.random.key(3))
    step = jax.jit(lambda p, mu: lm_step(xor_residuals, p, mu))
    mu, sse_prev = jnp.asarray(1e-3), xor_sse(params)
    for _ in range(5):
        params, new_mu, sse = step(params, mu)
        assert float(sse) < float(sse_prev)
        np.testing.assert_allclose(sse, xor_sse(params), rtol=1e-12)
        assert float(new_mu) < float(mu) or float(new_mu) >= 1e-20
        mu, sse_prev = new_mu, sse


def test_lm_rejects_uphill_steps_by_raising_mu():
    # At a minimum no step lowers E: μ grows past μ_max and the params stay put.

    def residuals(p):
        return p - 1.0

    params, mu, sse = lm_step(residuals, jnp.ones(2), 1e-3, mu_max=1e3)
    np.testing.assert_array_equal(params, jnp.ones(2))
    assert float(mu) > 1e3 and float(sse) == 0.0


def test_lm_keeps_float32():
    params = jax.tree.map(lambda a: a.astype(jnp.float32), init_221(jax.random.key(2)))
    result = levenberg_marquardt(xor_residuals, params, max_iter=5)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(result.params))
    assert result.sse.dtype == jnp.float32


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mu": 0.0}, "mu must be > 0"),
        ({"mu_inc": 1.0}, "mu_inc must be > 1"),
        ({"mu_dec": 1.5}, r"mu_dec must be in \(0, 1\)"),
        ({"mu": 1.0, "mu_max": 0.1}, "mu <= mu_max"),
        ({"max_iter": 0}, "max_iter must be a Python int >= 1"),
        ({"goal": -1.0}, "goal must be >= 0"),
    ],
)
def test_lm_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        levenberg_marquardt(lambda p: p, jnp.ones(2), **kwargs)


def rosenbrock(p):
    return jnp.sum(100.0 * (p["y"] - p["x"] ** 2) ** 2 + (1.0 - p["x"]) ** 2)


def test_lbfgs_is_optaxs_and_minimizes():
    tx = lbfgs()
    assert isinstance(tx, optax.GradientTransformationExtraArgs)
    start = {"x": jnp.array([-1.2, 0.5]), "y": jnp.array([1.0, 0.0])}
    params, loss, steps = jax.jit(lambda p: minimize_lbfgs(rosenbrock, p, max_iter=200))(start)
    np.testing.assert_allclose(params["x"], [1.0, 1.0], atol=1e-5)
    assert float(loss) < 1e-10 and int(steps) < 200
    with pytest.raises(ConfigError, match="memory_size"):
        lbfgs(memory_size=0)


def test_bfgs_from_jax_scipy_minimizes():
    # jax.scipy's BFGS line search gives up on Rosenbrock from (-1.2, 1) (status 3), so a convex
    # problem: least squares plus a quartic term, params as a pytree.
    A = jax.random.normal(jax.random.key(4), (8, 3))
    b = jnp.arange(8.0)

    def loss(p):
        return jnp.sum((A @ p["w"] - b) ** 2) + 0.1 * jnp.sum(p["w"] ** 4)

    params, result = jax.jit(lambda p: bfgs(loss, p))({"w": jnp.zeros(3)})
    assert bool(result.success)
    np.testing.assert_allclose(jax.grad(loss)(params)["w"], 0.0, atol=1e-4)
    assert float(result.fun) == pytest.approx(float(loss(params)))
