"""Clear errors: the layer's index and kind in the stack, expected vs actual, and the fix."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from fnnet import layers as L
from fnnet.errors import ConfigError, ParamsError, ShapeError

KEY = jax.random.PRNGKey(0)


def test_input_width_mismatch_at_apply_names_layer_and_shapes():
    model = L.serial(L.Dense(4), L.ReLU(), L.Dense(2))
    _, params = model.init(KEY, (-1, 3))
    with pytest.raises(ShapeError, match=r"serial layer 0 \(Dense\(4\)\): expected input with 3 features .* got shape \(5, 7\)"):
        model.apply(params, jnp.zeros((5, 7)))


def test_shape_mismatch_at_init_names_layer():
    model = L.serial(L.Dense(4), L.Conv2D(2))
    with pytest.raises(ShapeError, match=r"serial layer 1 \(Conv2D\(2\)\): expected input of rank 4 \(N, H, W, C\), got shape \(-1, 4\)"):
        model.init(KEY, (-1, 3))


def test_wrong_params_structure():
    model = L.serial(L.Dense(4), L.ReLU(), L.Dense(2))
    _, params = model.init(KEY, (-1, 3))
    with pytest.raises(ParamsError, match="expected params as a tuple of 3 entries"):
        model.apply(params[:2], jnp.zeros((5, 3)))
    with pytest.raises(ParamsError, match=r"serial layer 2 \(Dense\(2\)\): expected params dict with keys \['W', 'b'\]"):
        model.apply((params[0], (), {"w": 1}), jnp.zeros((5, 3)))
    with pytest.raises(ParamsError, match=r"serial layer 1 \(ReLU\): this layer has no parameters"):
        model.apply((params[0], params[0], params[2]), jnp.zeros((5, 3)))
    bad = (params[0], (), {"W": jnp.zeros((4, 3)), "b": jnp.zeros(2)})
    with pytest.raises(ParamsError, match=r"params\['W'\] should have shape \(4, 2\), got \(4, 3\)"):
        model.apply(bad, jnp.zeros((5, 3)))


def test_unknown_padding_and_non_positive_sizes():
    with pytest.raises(ConfigError, match="unknown padding 'FULL'"):
        L.Conv2D(3, padding="FULL")
    with pytest.raises(ShapeError, match="features must be a positive integer"):
        L.Conv2D(0)
    with pytest.raises(ShapeError, match="out_dim must be a positive integer"):
        L.Dense(-2)
    with pytest.raises(ShapeError, match="window must be a positive integer"):
        L.MaxPool2D(0)
    with pytest.raises(TypeError, match="did you forget the parentheses"):
        L.serial(L.Dense(2), L.ReLU)


def test_kernel_larger_than_input():
    with pytest.raises(ShapeError, match=r"input 2x2 is smaller than the 3x3 kernel"):
        L.serial(L.Conv2D(1, 3)).init(KEY, (1, 2, 2, 1))


def test_errors_are_raised_before_compiling_under_jit():
    model = L.serial(L.Dense(4))
    _, params = model.init(KEY, (-1, 3))
    with pytest.raises(ShapeError):
        jax.jit(model.apply)(params, jnp.zeros((2, 5)))
