"""Fully connected layer: z = x W + b."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fnnet import initializers
from fnnet.layers.base import Layer, check_dict_params, check_last_dim, check_positive
from fnnet.typing import Array, Params, PRNGKey, Shape


def Dense(
    out_dim: int,
    W_init: initializers.Initializer | None = None,
    b_init: initializers.Initializer | None = None,
    dtype=jnp.float32,
) -> Layer:
    """Affine layer ``y = x W + b`` (the net input z_l of the notes, before the activation).

    Shapes: x ``(..., in)``, W ``(in, out)``, b ``(out,)``, y ``(..., out)``.
    Params: ``{"W": W, "b": b}``; defaults W ~ Glorot normal, b = 0.

    Backward (delta = dy = dE/dz, summed over every leading axis, i.e. over the patterns)::

        dE/dW = a^T delta        dE/db = sum_p delta        dE/dx = delta W^T
    """
    check_positive("Dense", out_dim=out_dim)
    W_init = W_init or initializers.glorot_normal()
    b_init = b_init or initializers.zeros
    name = f"Dense({out_dim})"

    def init(rng: PRNGKey, input_shape: Shape) -> tuple[Shape, Params]:
        if len(input_shape) < 1:
            raise ValueError(f"{name}: input_shape must have a feature axis, got {input_shape}.")
        in_dim = input_shape[-1]
        check_positive(name, input_features=in_dim)
        k_W, k_b = jax.random.split(rng)
        params = {"W": W_init(k_W, (in_dim, out_dim), dtype), "b": b_init(k_b, (out_dim,), dtype)}
        return (*input_shape[:-1], out_dim), params

    def _check(params: Params, x: Array) -> None:
        W = params.get("W") if isinstance(params, dict) else None
        in_dim = W.shape[0] if W is not None and W.ndim == 2 else x.shape[-1]
        check_dict_params(name, params, {"W": (in_dim, out_dim), "b": (out_dim,)})
        check_last_dim(name, x.shape, in_dim)

    def apply(params: Params, x: Array, **kwargs) -> Array:
        del kwargs
        _check(params, x)
        b = params["b"]
        return x @ params["W"] + b.reshape((1,) * (x.ndim - 1) + b.shape)

    def backward(params: Params, x: Array, y: Array, dy: Array) -> tuple[Params, Array]:
        del y
        a = x.reshape(-1, x.shape[-1])  # (patterns, in)
        delta = dy.reshape(-1, dy.shape[-1])  # (patterns, out)
        dW = a.T @ delta
        db = jnp.sum(delta, axis=0)
        dx = dy @ params["W"].T
        return {"W": dW, "b": db}, dx

    return Layer(name, init, apply, backward)
