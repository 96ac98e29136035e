"""Manual backpropagation: the delta equations, run layer by layer, as a drop-in for jax.grad.

For a model ``serial(f_1, ..., f_L)`` and a loss E(y, t)::

    forward:   a_0 = x;  a_l = f_l(theta_l, a_{l-1})          keep every a_l (the tape)
    output:    delta_L = dE/da_L = loss.grad(a_L, t)
    backward:  (dE/dtheta_l, delta_{l-1}) = f_l.backward(theta_l, a_{l-1}, a_l, delta_l)

The returned gradient has exactly the pytree structure (and dtypes) of ``jax.grad``'s, so either
can feed the same optax update. Everything here is a pure function of arrays: jit, vmap and scan
it freely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from fnnet.layers.base import Layer
from fnnet.losses import Loss
from fnnet.typing import Array, Params


def _cast_like(grads: Params, params: Params) -> Params:
    return jax.tree_util.tree_map(lambda g, p: g.astype(p.dtype), grads, params)


def value_and_grad(
    model: Layer, loss: Loss, *, return_deltas: bool = False
) -> Callable[[Params, Any, Array], tuple]:
    """``fn(params, x, t) -> (E, dE/dparams)`` computed by the hand-derived backward passes.

    With ``return_deltas=True`` the result is ``(E, grads, deltas)``: ``deltas`` mirrors the
    model's layer structure and holds dE/d(output) of every layer (for a Dense layer, the notes'
    delta_l = dE/dz_l), e.g. to measure vanishing gradients.
    """

    def fn(params: Params, x: Any, t: Array):
        y, tape = model.fwd(params, x)
        E = loss(y, t)
        grads, _, deltas = model.bwd(params, tape, loss.grad(y, t))
        grads = _cast_like(grads, params)
        return (E, grads, deltas) if return_deltas else (E, grads)

    return fn


def grad(model: Layer, loss: Loss, *, return_deltas: bool = False) -> Callable[[Params, Any, Array], Any]:
    """``fn(params, x, t) -> dE/dparams`` (or ``(grads, deltas)``), same structure as jax.grad."""
    vg = value_and_grad(model, loss, return_deltas=return_deltas)

    def fn(params: Params, x: Any, t: Array):
        out = vg(params, x, t)
        return out[1:] if return_deltas else out[1]

    return fn


def autodiff_value_and_grad(model: Layer, loss: Loss) -> Callable[[Params, Any, Array], tuple]:
    """The same contract as ``value_and_grad``, computed by ``jax.value_and_grad`` instead."""
    return jax.value_and_grad(lambda params, x, t: loss(model.apply(params, x), t))


METHODS = ("manual", "autodiff")


def value_grad_and_output(model: Layer, loss: Loss, method: str) -> Callable[[Params, Any, Array], tuple]:
    """``fn(params, x, t) -> (E, dE/dparams, y)`` by ``"manual"`` backprop or ``"autodiff"``
    (jax.grad); ``y`` is the model's output on ``x``, for metrics such as accuracy."""
    if method == "manual":

        def manual(params: Params, x: Any, t: Array):
            y, tape = model.fwd(params, x)
            grads, _, _ = model.bwd(params, tape, loss.grad(y, t))
            return loss(y, t), _cast_like(grads, params), y

        return manual
    if method == "autodiff":

        def autodiff(params: Params, x: Any, t: Array):
            def objective(p):
                y = model.apply(p, x)
                return loss(y, t), y

            (E, y), grads = jax.value_and_grad(objective, has_aux=True)(params)
            return E, grads, y

        return autodiff
    raise ValueError(f"unknown gradient method {method!r}; use one of {METHODS}.")


def as_custom_vjp(model: Layer) -> Callable[[Params, Any], Any]:
    """``apply(params, x)`` registered with ``jax.custom_vjp``: jax.grad of any code that calls it
    runs the model's hand-derived backward pass (and returns dE/dx too)."""

    @jax.custom_vjp
    def apply(params: Params, x: Any):
        return model.apply(params, x)

    def fwd(params: Params, x: Any):
        y, tape = model.fwd(params, x)
        return y, (params, tape)

    def bwd(res, dy):
        params, tape = res
        dparams, dx, _ = model.bwd(params, tape, dy)
        return _cast_like(dparams, params), dx

    apply.defvjp(fwd, bwd)
    return apply
