"""Every layer's hand-derived backward equals jax.vjp of its forward, refereed by float64 finite
differences; init's output shape is apply's; jit and vmap change nothing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fnnet import layers as L
from registry import cast, dtypes, layer_cases
from tolerances import FD_RTOL, rel_err, rtol


def _setup(layer, shape, dtype, seed):
    k_init, k_x, k_dy = jax.random.split(jax.random.PRNGKey(seed), 3)
    out_shape, params = layer.init(k_init, shape)
    params = cast(params, dtype)
    # Small biases would make ReLU kinks likelier; random N(0,1) inputs keep away from them.
    x = jax.random.normal(k_x, shape, dtype)
    y = layer.apply(params, x)
    dy = jax.random.normal(k_dy, y.shape, dtype)
    return out_shape, params, x, y, dy


@given(case=layer_cases, dtype=dtypes, seed=st.integers(0, 2**16))
def test_backward_equals_vjp(case, dtype, seed):
    layer, shape = case
    out_shape, params, x, y, dy = _setup(layer, shape, dtype, seed)
    assert y.shape == out_shape, f"{layer}: init says {out_shape}, apply gives {y.shape}"
    assert y.dtype == dtype
    dparams, dx = layer.backward(params, x, y, dy)
    _, vjp = jax.vjp(layer.apply, params, x)
    ref_params, ref_dx = vjp(dy)
    assert jax.tree_util.tree_structure(dparams) == jax.tree_util.tree_structure(ref_params)
    for got, ref in zip(jax.tree_util.tree_leaves((dparams, dx)), jax.tree_util.tree_leaves((ref_params, ref_dx))):
        assert got.shape == ref.shape and got.dtype == ref.dtype
        assert rel_err(got, ref) <= rtol(dtype), f"{layer}: rel err {rel_err(got, ref):.3g}"


@settings(max_examples=15)
@given(case=layer_cases, seed=st.integers(0, 2**16))
def test_backward_matches_finite_differences_float64(case, seed):
    """The referee: central differences of E = <dy, f(params, x)> in float64."""
    layer, shape = case
    _, params, x, y, dy = _setup(layer, shape, np.float64, seed)
    dparams, dx = layer.backward(params, x, y, dy)
    energy = lambda p, xx: jnp.sum(layer.apply(p, xx) * dy)  # noqa: E731
    rng = np.random.default_rng(seed)
    leaves, treedef = jax.tree_util.tree_flatten((params, x))
    grads = jax.tree_util.tree_leaves((dparams, dx))
    for i, (leaf, g) in enumerate(zip(leaves, grads)):
        idx = rng.choice(leaf.size, min(leaf.size, 8), replace=False)
        fd = []
        for k in idx:
            h = 1e-6 * max(1.0, abs(float(leaf.reshape(-1)[k])))
            plus, minus = list(leaves), list(leaves)
            plus[i] = leaf.reshape(-1).at[k].add(h).reshape(leaf.shape)
            minus[i] = leaf.reshape(-1).at[k].add(-h).reshape(leaf.shape)
            fd.append((energy(*jax.tree_util.tree_unflatten(treedef, plus)) - energy(*jax.tree_util.tree_unflatten(treedef, minus))) / (2 * h))
        got = np.asarray(g).reshape(-1)[idx]
        scale = max(np.max(np.abs(np.asarray(g))), 1e-12)
        assert np.max(np.abs(got - np.asarray(fd))) / scale <= FD_RTOL * 10, f"{layer} leaf {i}"


@settings(max_examples=8)
@given(case=layer_cases, seed=st.integers(0, 2**8))
def test_jit_equals_eager(case, seed):
    layer, shape = case
    _, params, x, y, dy = _setup(layer, shape, np.float32, seed)
    eager = layer.backward(params, x, y, dy)
    jitted = jax.jit(layer.backward)(params, x, y, dy)
    for a, b in zip(jax.tree_util.tree_leaves(eager), jax.tree_util.tree_leaves(jitted)):
        assert rel_err(a, b) <= rtol(np.float32)
    assert rel_err(jax.jit(layer.apply)(params, x), y) <= rtol(np.float32)


@settings(max_examples=8)
@given(case=layer_cases, seed=st.integers(0, 2**8), k=st.integers(1, 3))
def test_vmap_over_param_stacks_equals_loop(case, seed, k):
    layer, shape = case
    keys = jax.random.split(jax.random.PRNGKey(seed), k)
    stacked = [layer.init(key, shape)[1] for key in keys]
    params = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *stacked) if stacked[0] != () else ()
    x = jax.random.normal(jax.random.PRNGKey(seed + 1), shape, np.float32)
    if params == ():
        return  # nothing to stack for parameterless layers; covered by the batch axis
    ys = jax.vmap(layer.apply, in_axes=(0, None))(params, x)
    dys = jnp.ones_like(ys)
    grads = jax.vmap(layer.backward, in_axes=(0, None, 0, 0))(params, x, ys, dys)
    for i, p in enumerate(stacked):
        y = layer.apply(p, x)
        g = layer.backward(p, x, y, jnp.ones_like(y))
        assert rel_err(ys[i], y) <= rtol(np.float32)
        for a, b in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(g)):
            assert rel_err(a[i], b) <= rtol(np.float32)


def test_sigmoid_gain_derivative_is_gain_y_one_minus_y():
    z = jnp.linspace(-4, 4, 9, dtype=jnp.float64)[None]
    layer = L.Sigmoid(gain=2.5)
    y = layer.apply((), z)
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-2.5 * np.asarray(z))), rtol=1e-14)
    _, dz = layer.backward((), z, y, jnp.ones_like(y))
    np.testing.assert_allclose(dz, 2.5 * y * (1 - y), rtol=1e-14)


def test_maxpool_ties_route_to_first_maximum_deterministically():
    x = jnp.ones((1, 4, 4, 1))  # every window is a four-way tie
    layer = L.MaxPool2D(2)
    y = layer.apply((), x)
    _, dx = layer.backward((), x, y, jnp.ones_like(y))
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1.0  # top-left of each 2x2 window
    np.testing.assert_array_equal(np.asarray(dx)[0, :, :, 0], expected)
    # The same convention as XLA's select-and-scatter, so jax.grad agrees even on ties.
    ref = jax.grad(lambda xx: jnp.sum(layer.apply((), xx)))(x)
    np.testing.assert_array_equal(dx, ref)


def test_maxpool_overlapping_windows_accumulate():
    x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    layer = L.MaxPool2D(3, strides=1)
    y = layer.apply((), x)
    _, dx = layer.backward((), x, y, jnp.ones_like(y))
    # the maxima are the bottom-right entries of each of the four windows
    expected = np.zeros((4, 4))
    expected[2:, 2:] = 1.0
    np.testing.assert_array_equal(np.asarray(dx)[0, :, :, 0], expected)


def test_conv_shared_weight_gradient_sums_over_positions():
    """A 1x1 conv on an all-ones image: dW is the number of positions times the delta."""
    layer = L.Conv2D(1, kernel=1)
    _, params = layer.init(jax.random.PRNGKey(0), (2, 3, 5, 1))
    x = jnp.ones((2, 3, 5, 1))
    y = layer.apply(params, x)
    dparams, _ = layer.backward(params, x, y, jnp.ones_like(y))
    assert float(dparams["W"][0, 0, 0, 0]) == pytest.approx(2 * 3 * 5)
    assert float(dparams["b"][0]) == pytest.approx(2 * 3 * 5)


def test_softmax_jacobian_is_full_not_fused():
    z = jax.random.normal(jax.random.PRNGKey(0), (3, 5), jnp.float64)
    layer = L.Softmax()
    y = layer.apply((), z)
    dy = jax.random.normal(jax.random.PRNGKey(1), (3, 5), jnp.float64)
    _, dz = layer.backward((), z, y, dy)
    for p in range(3):
        J = np.diag(np.asarray(y[p])) - np.outer(y[p], y[p])
        np.testing.assert_allclose(dz[p], J @ np.asarray(dy[p]), rtol=1e-12)


@pytest.mark.parametrize(
    "layer,shape",
    [
        (L.Dense(3), (4,)),  # a single pattern, no batch axis
        (L.Dense(3), (2, 5, 4)),  # extra leading axes are patterns too
        (L.Tanh(), (7,)),
    ],
)
def test_dense_and_activations_accept_any_leading_axes(layer, shape):
    _, params = layer.init(jax.random.PRNGKey(0), shape)
    params = cast(params, np.float64)
    x = jax.random.normal(jax.random.PRNGKey(1), shape, jnp.float64)
    y = layer.apply(params, x)
    dy = jnp.ones_like(y)
    got = layer.backward(params, x, y, dy)
    ref = jax.vjp(layer.apply, params, x)[1](dy)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(ref)):
        assert rel_err(a, b) <= 1e-12
