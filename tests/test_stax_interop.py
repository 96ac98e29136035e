"""fnnet layers drop into jax.example_libraries.stax, and accept stax's rng= keyword."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.example_libraries import stax

from fnnet import layers as L


def test_fnnet_layers_inside_stax_serial():
    init, apply = stax.serial(L.Dense(8), stax.Relu, L.Dense(3), L.Softmax())
    out_shape, params = init(jax.random.PRNGKey(0), (-1, 5))
    assert out_shape == (-1, 3)
    y = apply(params, jnp.ones((4, 5)), rng=jax.random.PRNGKey(1))
    assert y.shape == (4, 3)
    np.testing.assert_allclose(np.sum(np.asarray(y), axis=1), 1.0, rtol=1e-6)


def test_stax_view_and_same_params_as_fnnet_serial():
    model = L.serial(L.Dense(6), L.Tanh(), L.Dense(2))
    init, apply = stax.serial(*(layer.stax for layer in [L.Dense(6), L.Tanh(), L.Dense(2)]))
    _, p_fnnet = model.init(jax.random.PRNGKey(0), (-1, 3))
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 3))
    np.testing.assert_allclose(apply(p_fnnet, x, rng=None), model.apply(p_fnnet, x, rng=jax.random.PRNGKey(2)), rtol=1e-6)
    assert init(jax.random.PRNGKey(0), (-1, 3))[0] == (-1, 2)
