"""Max and average pooling over 2-D windows (NHWC), with hand-derived backward passes."""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
from jax import lax

from fnnet.layers.base import Layer, check_no_params, check_rank
from fnnet.layers.conv import Padding, check_padding, explicit_pads, out_size, pair
from fnnet.typing import Array, Params, PRNGKey, Shape


def _pool_layer(kind: str, window, strides, padding, forward, backward_fn) -> Layer:
    kh, kw = pair(kind, "window", window)
    sh, sw = pair(kind, "strides", strides if strides is not None else (kh, kw))
    padding = check_padding(kind, padding)
    name = f"{kind}(({kh}, {kw}))"

    def geometry(h: int, w: int):
        (pt, pb), (pl, pr) = explicit_pads((h, w), (kh, kw), (sh, sw), padding)
        oh, ow = out_size(h, kh, sh, pt, pb), out_size(w, kw, sw, pl, pr)
        if oh < 1 or ow < 1:
            raise ValueError(f"{name}: input {h}x{w} is smaller than the {kh}x{kw} window; use padding='SAME'.")
        return (pt, pb), (pl, pr), oh, ow

    def init(rng: PRNGKey, input_shape: Shape) -> tuple[Shape, Params]:
        del rng
        check_rank(name, input_shape, 4, "(N, H, W, C)")
        n, h, w, c = input_shape
        _, _, oh, ow = geometry(h, w)
        return (n, oh, ow, c), ()

    def apply(params: Params, x: Array, **kwargs) -> Array:
        del kwargs
        check_no_params(name, params)
        check_rank(name, x.shape, 4, "(N, H, W, C)")
        pads = geometry(x.shape[1], x.shape[2])[:2]
        return forward(x, (kh, kw), (sh, sw), pads)

    def backward(params: Params, x: Array, y: Array, dy: Array) -> tuple[Params, Array]:
        del params
        pads = geometry(x.shape[1], x.shape[2])
        return (), backward_fn(x, y, dy, (kh, kw), (sh, sw), pads)

    return Layer(name, init, apply, backward)


def _window_views(x_pad: Array, window, strides, oh: int, ow: int):
    """Yield (p, q, view) with view[n, i, j, c] = x_pad[n, s_h i + p, s_w j + q, c]."""
    (kh, kw), (sh, sw) = window, strides
    for p in range(kh):
        for q in range(kw):
            yield p, q, x_pad[:, p : p + sh * (oh - 1) + 1 : sh, q : q + sw * (ow - 1) + 1 : sw, :]


def _scatter_add(acc: Array, p: int, q: int, strides, oh: int, ow: int, values: Array) -> Array:
    sh, sw = strides
    return acc.at[:, p : p + sh * (oh - 1) + 1 : sh, q : q + sw * (ow - 1) + 1 : sw, :].add(values)


def _crop(dx_pad: Array, pads, h: int, w: int) -> Array:
    (pt, _), (pl, _) = pads
    return dx_pad[:, pt : pt + h, pl : pl + w, :]


def _max_forward(x, window, strides, pads):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, *window, 1), (1, *strides, 1), ((0, 0), *pads, (0, 0)))


def _max_backward(x, y, dy, window, strides, geometry):
    """Route each delta to the input that was the maximum of its window.

    Ties go to the first maximum in row-major window order (deterministic, as XLA's
    select-and-scatter does), so exactly one input per window receives the delta.
    """
    (pt, pb), (pl, pr), oh, ow = geometry
    _, h, w, _ = x.shape
    x_pad = jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=-jnp.inf)
    dx_pad = jnp.zeros_like(x_pad)
    routed = jnp.zeros(dy.shape, bool)
    for p, q, view in _window_views(x_pad, window, strides, oh, ow):
        take = (view == y) & ~routed
        routed = routed | take
        dx_pad = _scatter_add(dx_pad, p, q, strides, oh, ow, jnp.where(take, dy, 0))
    return _crop(dx_pad, ((pt, pb), (pl, pr)), h, w)


def _valid_counts(x, window, strides, pads):
    """Number of real (not padded) inputs under each window: (1, H', W', 1)."""
    ones = jnp.ones((1, x.shape[1], x.shape[2], 1), x.dtype)
    return lax.reduce_window(ones, 0.0, lax.add, (1, *window, 1), (1, *strides, 1), ((0, 0), *pads, (0, 0)))


def _avg_forward(x, window, strides, pads):
    total = lax.reduce_window(x, 0.0, lax.add, (1, *window, 1), (1, *strides, 1), ((0, 0), *pads, (0, 0)))
    return total / _valid_counts(x, window, strides, pads)


def _avg_backward(x, y, dy, window, strides, geometry):
    """Each input receives delta / (window count) from every window that covers it."""
    del y
    (pt, pb), (pl, pr), oh, ow = geometry
    _, h, w, _ = x.shape
    share = dy / _valid_counts(x, window, strides, ((pt, pb), (pl, pr)))
    dx_pad = jnp.zeros((x.shape[0], h + pt + pb, w + pl + pr, x.shape[3]), dy.dtype)
    for p in range(window[0]):
        for q in range(window[1]):
            dx_pad = _scatter_add(dx_pad, p, q, strides, oh, ow, share)
    return _crop(dx_pad, ((pt, pb), (pl, pr)), h, w)


def MaxPool2D(
    window: int | Sequence[int] = 2, strides: int | Sequence[int] | None = None, padding: Padding = "VALID"
) -> Layer:
    """y[n, i, j, c] = max over the window at (s_h i, s_w j); strides default to the window.

    Backward: dE/dx is delta at the arg-max of each window, 0 elsewhere (summed where windows
    overlap); ties go to the first maximum in row-major order.
    """
    return _pool_layer("MaxPool2D", window, strides, padding, _max_forward, _max_backward)


def AvgPool2D(
    window: int | Sequence[int] = 2, strides: int | Sequence[int] | None = None, padding: Padding = "VALID"
) -> Layer:
    """y = mean over the real (unpadded) inputs of each window, as stax's AvgPool.

    Backward: every input of a window receives delta / count.
    """
    return _pool_layer("AvgPool2D", window, strides, padding, _avg_forward, _avg_backward)
