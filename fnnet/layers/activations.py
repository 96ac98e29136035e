"""Element-wise activations and softmax, each with its derivative written in terms of its output.

For an activation a = g(z) the backward pass is delta_z = delta_a * g'(z); the notes' trick is that
g' can be computed from the stored output alone, e.g. sigma'(z) = gain * y (1 - y).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fnnet.errors import ConfigError
from fnnet.layers.base import Layer, check_no_params
from fnnet.typing import Array, Params, PRNGKey, Shape


def _elementwise(name: str, forward, derivative) -> Layer:
    """A parameterless layer y = g(x) with backward dx = dy * g'(x, y)."""

    def init(rng: PRNGKey, input_shape: Shape) -> tuple[Shape, Params]:
        del rng
        return tuple(input_shape), ()

    def apply(params: Params, x: Array, **kwargs) -> Array:
        del kwargs
        check_no_params(name, params)
        return forward(x)

    def backward(params: Params, x: Array, y: Array, dy: Array) -> tuple[Params, Array]:
        del params
        return (), dy * derivative(x, y)

    return Layer(name, init, apply, backward)


def Sigmoid(gain: float = 1.0) -> Layer:
    """Logistic sigmoid with gain (steepness) beta: y = 1 / (1 + exp(-beta z)).

    Derivative from the output: dy/dz = beta * y * (1 - y).
    (FANN's "steepness" s corresponds to beta = 2 s.)
    """
    if isinstance(gain, (int, float)) and not gain > 0:
        raise ConfigError(f"Sigmoid(gain={gain}): gain must be > 0.")
    name = "Sigmoid" if gain == 1.0 else f"Sigmoid(gain={gain})"
    return _elementwise(
        name,
        lambda x: jax.nn.sigmoid(gain * x),
        lambda x, y: gain * y * (1 - y),
    )


def Tanh() -> Layer:
    """y = tanh(z); dy/dz = 1 - y^2, computed as (1 - y)(1 + y): the same value, without the
    cancellation of 1 - y*y as |y| -> 1 (and one fusion XLA:CPU runs faster)."""
    return _elementwise("Tanh", jnp.tanh, lambda x, y: (1 - y) * (1 + y))


def ReLU() -> Layer:
    """y = max(z, 0); dy/dz = 1 where z > 0, else 0 (0 at z = 0, as jax.nn.relu)."""
    return _elementwise(
        "ReLU",
        jax.nn.relu,  # not jnp.maximum(x, 0), whose jax.grad is 0.5 at z = 0
        lambda x, y: (x > 0).astype(y.dtype),
    )


def LeakyReLU(slope: float = 0.01) -> Layer:
    """y = z for z > 0, slope * z otherwise; dy/dz = 1 or slope."""
    if isinstance(slope, (int, float)) and not slope >= 0:
        raise ConfigError(f"LeakyReLU(slope={slope}): slope must be >= 0.")
    return _elementwise(
        f"LeakyReLU({slope})",
        lambda x: jnp.where(x > 0, x, slope * x),
        lambda x, y: jnp.where(x > 0, 1.0, slope).astype(y.dtype),
    )


def Identity() -> Layer:
    """y = z (a linear output unit); dy/dz = 1."""
    return _elementwise("Identity", lambda x: x, lambda x, y: jnp.ones_like(y))


def Softmax(axis: int = -1) -> Layer:
    """y_i = exp(z_i) / sum_j exp(z_j) along ``axis`` (max-shifted for stability).

    Backward is the full Jacobian-vector product, J = diag(y) - y y^T::

        dE/dz_i = y_i (dE/dy_i - sum_j dE/dy_j y_j)

    (No fused shortcut: paired with ``losses.categorical_cross_entropy`` it reduces to y - t, and
    the tests show that it does.)
    """
    name = "Softmax"

    def init(rng: PRNGKey, input_shape: Shape) -> tuple[Shape, Params]:
        del rng
        return tuple(input_shape), ()

    def apply(params: Params, x: Array, **kwargs) -> Array:
        del kwargs
        check_no_params(name, params)
        return jax.nn.softmax(x, axis=axis)

    def backward(params: Params, x: Array, y: Array, dy: Array) -> tuple[Params, Array]:
        del params, x
        return (), y * (dy - jnp.sum(dy * y, axis=axis, keepdims=True))

    return Layer(name, init, apply, backward)
