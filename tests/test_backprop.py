"""Manual backprop == jax.grad on every network a user can build, refereed by float64 finite
differences; the deltas are the notes' deltas; as_custom_vjp really runs the manual backward."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fnnet import backprop, gradcheck, losses
from fnnet import layers as L
from fnnet.layers.base import Layer
from registry import LOSSES, cast, dtypes, random_target
from tolerances import rel_err, rtol

SMOOTH = [L.Sigmoid, lambda: L.Sigmoid(gain=2.0), L.Tanh, L.Identity]
ACTIVATIONS = [*SMOOTH, L.ReLU, lambda: L.LeakyReLU(0.05)]


@st.composite
def mlp(draw, activations=ACTIVATIONS):
    """A random serial stack of depth 1-6 (Dense + activation per hidden layer) and a loss."""
    depth = draw(st.integers(1, 6))
    layers = []
    for _ in range(depth - 1):
        layers += [L.Dense(draw(st.integers(1, 10))), draw(st.sampled_from(activations))()]
    loss_name = draw(st.sampled_from(sorted(LOSSES)))
    n_out = draw(st.integers(2 if LOSSES[loss_name].classification else 1, 6))
    layers.append(L.Dense(n_out))
    if loss_name == "categorical_cross_entropy":
        layers.append(L.Softmax())
    elif loss_name in ("sse", "mse", "quadratic"):
        layers.append(draw(st.sampled_from(activations))())
    return L.serial(*layers), LOSSES[loss_name], (draw(st.integers(1, 64)), draw(st.integers(1, 10)))


def cnn(n_classes=3):
    return L.serial(
        L.Conv2D(3, kernel=3, padding="SAME"), L.ReLU(), L.MaxPool2D(2), L.Flatten(), L.Dense(8), L.Tanh(), L.Dense(n_classes)
    )


def skip_net():
    return L.serial(
        L.Dense(6),
        L.Tanh(),
        L.Residual(L.Dense(6), L.Sigmoid(), L.Dense(6)),
        L.FanOut(2),
        L.parallel(L.Dense(4), L.serial(L.Dense(3), L.ReLU())),
        L.FanInConcat(),
        L.Dense(2),
    )


def _problem(model, loss, shape, dtype, seed, integer_labels=False):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    out_shape, params = model.init(k1, shape)
    params = cast(params, dtype)
    x = jax.random.normal(k2, shape, dtype)
    t = random_target(loss, k3, (shape[0], *out_shape[1:]), dtype, integer_labels=integer_labels)
    return params, x, t


def _assert_same(manual, auto, tol):
    assert jax.tree_util.tree_structure(manual) == jax.tree_util.tree_structure(auto)
    for (path, m), a in zip(jax.tree_util.tree_flatten_with_path(manual)[0], jax.tree_util.tree_leaves(auto)):
        assert m.dtype == a.dtype and m.shape == a.shape
        assert rel_err(m, a) <= tol, f"{jax.tree_util.keystr(path)}: rel err {rel_err(m, a):.3g} > {tol}"


@given(net=mlp(), dtype=dtypes, seed=st.integers(0, 2**16), integer_labels=st.booleans())
def test_random_mlp_manual_equals_autodiff(net, dtype, seed, integer_labels):
    """float64: manual == jax.grad to 1e-10. float32: within 1e-5 of each other, or, where a leaf
    is a sum with cancellation (a bias summing deltas of both signs), at least as close to the
    float64 truth as jax.grad is: manual is never the less accurate of the two."""
    model, loss, shape = net
    params, x, t = _problem(model, loss, shape, dtype, seed, integer_labels)
    E_m, g_m = jax.jit(backprop.value_and_grad(model, loss))(params, x, t)
    E_a, g_a = jax.jit(backprop.autodiff_value_and_grad(model, loss))(params, x, t)
    assert rel_err(E_m, E_a) <= rtol(dtype)
    if dtype == np.float64:
        _assert_same(g_m, g_a, rtol(dtype))
        return
    g_true = jax.jit(backprop.grad(model, loss))(cast(params, np.float64), cast(x, np.float64), t if integer_labels else cast(t, np.float64))
    assert jax.tree_util.tree_structure(g_m) == jax.tree_util.tree_structure(g_a)
    for m, a, truth in zip(*map(jax.tree_util.tree_leaves, (g_m, g_a, g_true))):
        assert m.dtype == a.dtype == np.float32 and m.shape == a.shape
        if rel_err(m, a) > rtol(dtype):
            assert rel_err(m, truth) <= 2 * rel_err(a, truth) + 1e-7, (rel_err(m, truth), rel_err(a, truth))


def test_manual_and_autodiff_agree_under_jit():
    model, loss = L.serial(L.Dense(7), L.Tanh(), L.Dense(3)), losses.softmax_cross_entropy
    params, x, t = _problem(model, loss, (16, 5), np.float32, 0, integer_labels=True)
    E_m, g_m = jax.jit(backprop.value_and_grad(model, loss))(params, x, t)
    E_a, g_a = jax.jit(backprop.autodiff_value_and_grad(model, loss))(params, x, t)
    assert rel_err(E_m, E_a) <= rtol(np.float32)
    _assert_same(g_m, g_a, rtol(np.float32))


@settings(max_examples=8)
@given(net=mlp(activations=SMOOTH), seed=st.integers(0, 2**16))
def test_random_mlp_refereed_by_finite_differences(net, seed):
    """Smooth activations only: a central difference straddling a ReLU kink (|z| < h) measures
    the secant, not the derivative. Kinked layers are refereed one at a time in test_layers."""
    model, loss, shape = net
    params, x, t = _problem(model, loss, shape, np.float64, seed)
    report = gradcheck.check(model, loss, params, x, t, max_fd_elements=8)
    assert report.passed, str(report)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("build,shape", [(cnn, (5, 6, 6, 2)), (skip_net, (7, 5))], ids=["cnn", "skip"])
def test_cnn_and_skip_connection_stacks(build, shape, dtype):
    model = build()
    loss = losses.softmax_cross_entropy if build is cnn else losses.sse
    params, x, t = _problem(model, loss, shape, dtype, 0, integer_labels=build is cnn)
    report = gradcheck.check(model, loss, params, x, t, max_fd_elements=8)
    assert report.passed, str(report)


def test_vmap_over_stacked_param_sets_equals_loop():
    model = L.serial(L.Dense(5), L.Sigmoid(), L.Dense(2))
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    sets = [model.init(k, (-1, 3))[1] for k in keys]
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *sets)
    x = jax.random.normal(keys[0], (9, 3))
    t = jax.random.normal(keys[1], (9, 2))
    g = jax.jit(jax.vmap(backprop.grad(model, losses.sse), in_axes=(0, None, None)))(stacked, x, t)
    for i, p in enumerate(sets):
        ref = jax.grad(lambda p: losses.sse(model.apply(p, x), t))(p)
        _assert_same(jax.tree_util.tree_map(lambda a: a[i], g), ref, rtol(np.float32))


def test_per_pattern_vmap_sums_to_batch_gradient():
    """Online learning's per-pattern gradients (vmap over x) add up to the batch gradient of SSE."""
    model = L.serial(L.Dense(4), L.Tanh(), L.Dense(2))
    _, p = model.init(jax.random.PRNGKey(0), (-1, 3))
    p = cast(p, np.float64)
    x = jax.random.normal(jax.random.PRNGKey(1), (6, 3), jnp.float64)
    t = jax.random.normal(jax.random.PRNGKey(2), (6, 2), jnp.float64)
    per = jax.vmap(backprop.grad(model, losses.sse), in_axes=(None, 0, 0))(p, x[:, None], t[:, None])
    total = backprop.grad(model, losses.sse)(p, x, t)
    _assert_same(jax.tree_util.tree_map(lambda a: a.sum(0), per), total, 1e-12)


def test_deltas_are_the_delta_rule():
    """delta_L = (y - t) * g'(z_L); delta_l = (delta_{l+1} W_{l+1}^T) * g'(z_l); dW_l = a_{l-1}^T delta_l."""
    model = L.serial(L.Dense(4), L.Sigmoid(), L.Dense(2), L.Sigmoid())
    _, p = model.init(jax.random.PRNGKey(0), (-1, 3))
    p = cast(p, np.float64)
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 3), jnp.float64)
    t = jax.random.uniform(jax.random.PRNGKey(2), (5, 2), jnp.float64)
    E, grads, deltas = backprop.value_and_grad(model, losses.sse, return_deltas=True)(p, x, t)
    W1, b1, W2, b2 = p[0]["W"], p[0]["b"], p[2]["W"], p[2]["b"]
    a1 = jax.nn.sigmoid(x @ W1 + b1[None])
    y = jax.nn.sigmoid(a1 @ W2 + b2[None])
    delta2 = (y - t) * y * (1 - y)
    delta1 = (delta2 @ W2.T) * a1 * (1 - a1)
    np.testing.assert_allclose(deltas[2], delta2, rtol=1e-12)  # dE/dz at the output Dense
    np.testing.assert_allclose(deltas[0], delta1, rtol=1e-12)  # dE/dz at the hidden Dense
    np.testing.assert_allclose(grads[2]["W"], a1.T @ delta2, rtol=1e-12)
    np.testing.assert_allclose(grads[0]["W"], x.T @ delta1, rtol=1e-12)
    np.testing.assert_allclose(grads[0]["b"], delta1.sum(0), rtol=1e-12)
    assert float(E) == pytest.approx(0.5 * float(jnp.sum((y - t) ** 2)), rel=1e-12)


def test_mazur_worked_example_digit_by_digit():
    """Matt Mazur, "A Step by Step Backpropagation Example" (2015), cited in the lecture notes:
    2-2-2 sigmoid network, E = sum 1/2 (t - o)^2, one gradient step with eta = 0.5 (biases are
    held fixed in the example)."""
    W1 = jnp.array([[0.15, 0.25], [0.20, 0.30]], jnp.float64)  # (in, out): w1 w3 / w2 w4
    W2 = jnp.array([[0.40, 0.50], [0.45, 0.55]], jnp.float64)  # w5 w7 / w6 w8
    params = ({"W": W1, "b": jnp.full(2, 0.35, jnp.float64)}, (), {"W": W2, "b": jnp.full(2, 0.60, jnp.float64)}, ())
    model = L.serial(L.Dense(2), L.Sigmoid(), L.Dense(2), L.Sigmoid())
    x = jnp.array([[0.05, 0.10]], jnp.float64)
    t = jnp.array([[0.01, 0.99]], jnp.float64)
    y = model.apply(params, x)
    np.testing.assert_allclose(y, [[0.75136507, 0.772928465]], atol=5e-9)
    E, g = backprop.value_and_grad(model, losses.sse)(params, x, t)
    assert float(E) == pytest.approx(0.298371109, abs=5e-10)
    assert float(g[2]["W"][0, 0]) == pytest.approx(0.082167041, abs=5e-10)  # dE/dw5
    new_W2 = W2 - 0.5 * g[2]["W"]
    new_W1 = W1 - 0.5 * g[0]["W"]
    np.testing.assert_allclose(new_W2, [[0.35891648, 0.511301270], [0.408666186, 0.561370121]], atol=5e-9)
    np.testing.assert_allclose(new_W1, [[0.149780716, 0.24975114], [0.19956143, 0.29950229]], atol=5e-9)


def test_softmax_layer_with_categorical_ce_equals_fused_shortcut():
    """Unfused: Softmax's full Jacobian times -t/y. Fused: softmax(z) - t. Same gradient."""
    z_model = L.serial(L.Dense(4))
    p_model = L.serial(L.Dense(4), L.Softmax())
    _, p = z_model.init(jax.random.PRNGKey(0), (-1, 3))
    p = cast(p, np.float64)
    x = jax.random.normal(jax.random.PRNGKey(1), (8, 3), jnp.float64)
    t = jax.random.randint(jax.random.PRNGKey(2), (8,), 0, 4)
    fused = backprop.grad(z_model, losses.softmax_cross_entropy)(p, x, t)
    unfused = backprop.grad(p_model, losses.categorical_cross_entropy)((*p, ()), x, t)
    _assert_same(fused, unfused[:1], 1e-12)


def test_as_custom_vjp_runs_the_manual_backward():
    model = L.serial(L.Dense(3), L.Tanh(), L.Dense(1))
    _, p = model.init(jax.random.PRNGKey(0), (-1, 2))
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 2))
    f = backprop.as_custom_vjp(model)
    loss = lambda p, x: jnp.sum(f(p, x) ** 2)  # noqa: E731  arbitrary JAX code around the model
    ref = jax.grad(lambda p, x: jnp.sum(model.apply(p, x) ** 2), argnums=(0, 1))(p, x)
    _assert_same(jax.jit(jax.grad(loss, argnums=(0, 1)))(p, x), ref, rtol(np.float32))

    # A layer whose backward is deliberately doubled proves the custom rule is what jax.grad runs.
    dense = L.Dense(1)
    doubled = Layer("Doubled", dense.init, dense.apply, lambda p, x, y, dy: jax.tree_util.tree_map(lambda a: 2 * a, dense.backward(p, x, y, dy)))
    _, pd = doubled.init(jax.random.PRNGKey(0), (-1, 2))
    g_custom = jax.grad(lambda p: jnp.sum(backprop.as_custom_vjp(doubled)(p, x)))(pd)
    g_true = jax.grad(lambda p: jnp.sum(dense.apply(p, x)))(pd)
    np.testing.assert_allclose(g_custom["W"], 2 * g_true["W"], rtol=1e-6)


def test_sigmoid_bce_gradient_is_right_at_zero_logit():
    """Regression: max(z, 0) + log1p(exp(-|z|)) is stable but jax.grad of it is off by 0.5 at z = 0;
    the finite-difference referee found it. softplus keeps value and gradient right."""
    z = jnp.zeros((1, 1), jnp.float64)
    t = jnp.zeros((1, 1), jnp.float64)
    assert float(jax.grad(losses.sigmoid_binary_cross_entropy)(z, t)[0, 0]) == pytest.approx(0.5)
    assert float(losses.sigmoid_binary_cross_entropy.grad(z, t)[0, 0]) == pytest.approx(0.5)


def test_gradcheck_catches_a_wrong_backward():
    """A test that can fail: a sigmoid whose derivative forgets the gain is caught by the referee."""
    good = L.Sigmoid(gain=3.0)
    wrong = Layer("WrongSigmoid", good.init, good.apply, lambda p, x, y, dy: ((), dy * y * (1 - y)))
    model = L.serial(L.Dense(3), wrong, L.Dense(1))
    _, p = model.init(jax.random.PRNGKey(0), (-1, 2))
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 2))
    t = jax.random.normal(jax.random.PRNGKey(2), (4, 1))
    report = gradcheck.check(model, losses.sse, p, x, t)
    assert not report.passed
    assert "FAIL" in str(report) and "[0]['W']" in str(report)
    assert report.leaves[-1].passed  # the output layer's gradient does not depend on the bug
