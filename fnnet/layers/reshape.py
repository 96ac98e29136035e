"""Shape-only layers: their backward pass reshapes the delta back."""

from __future__ import annotations

import math

from fnnet.layers.base import Layer, check_no_params
from fnnet.typing import Array, Params, PRNGKey, Shape


def Flatten() -> Layer:
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...); backward reshapes delta to the input's shape."""
    name = "Flatten"

    def init(rng: PRNGKey, input_shape: Shape) -> tuple[Shape, Params]:
        del rng
        if len(input_shape) < 1:
            raise ValueError(f"{name}: input needs a batch axis, got shape {input_shape}.")
        return (input_shape[0], math.prod(input_shape[1:])), ()

    def apply(params: Params, x: Array, **kwargs) -> Array:
        del kwargs
        check_no_params(name, params)
        return x.reshape(x.shape[0], -1)

    def backward(params: Params, x: Array, y: Array, dy: Array) -> tuple[Params, Array]:
        del params, y
        return (), dy.reshape(x.shape)

    return Layer(name, init, apply, backward)


def Reshape(shape: Shape) -> Layer:
    """(N, ...) -> (N, *shape), e.g. Reshape((8, 8, 1)) turns flat digits into NHWC images."""
    shape = tuple(int(s) for s in shape)
    name = f"Reshape({shape})"

    def init(rng: PRNGKey, input_shape: Shape) -> tuple[Shape, Params]:
        del rng
        if math.prod(input_shape[1:]) != math.prod(shape):
            raise ValueError(
                f"{name}: cannot reshape per-example shape {tuple(input_shape[1:])} "
                f"({math.prod(input_shape[1:])} values) to {shape} ({math.prod(shape)} values)."
            )
        return (input_shape[0], *shape), ()

    def apply(params: Params, x: Array, **kwargs) -> Array:
        del kwargs
        check_no_params(name, params)
        if math.prod(x.shape[1:]) != math.prod(shape):
            raise ValueError(f"{name}: cannot reshape input of shape {x.shape} to (N, *{shape}).")
        return x.reshape(x.shape[0], *shape)

    def backward(params: Params, x: Array, y: Array, dy: Array) -> tuple[Params, Array]:
        del params, y
        return (), dy.reshape(x.shape)

    return Layer(name, init, apply, backward)
