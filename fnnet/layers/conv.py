"""2-D convolution with shared weights, NHWC layout, and its hand-derived backward pass."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from fnnet import initializers
from fnnet.errors import ConfigError
from fnnet.layers.base import Layer, check_dict_params, check_last_dim, check_positive, check_rank
from fnnet.typing import Array, Params, PRNGKey, Shape

Padding = str | Sequence[tuple[int, int]]


def pair(layer: str, key: str, value: int | Sequence[int]) -> tuple[int, int]:
    """Normalise an int or a 2-sequence to a pair of positive ints."""
    v = (value, value) if isinstance(value, int) else tuple(value)
    if len(v) != 2:
        raise ConfigError(f"{layer}: {key} must be an int or a pair (h, w), got {value!r}.")
    check_positive(layer, **{key: v})
    return v  # type: ignore[return-value]


def check_padding(layer: str, padding: Padding) -> Padding:
    """'VALID', 'SAME' or explicit ((top, bottom), (left, right)) non-negative pads."""
    if isinstance(padding, str):
        if padding.upper() not in ("VALID", "SAME"):
            raise ConfigError(
                f"{layer}: unknown padding {padding!r}. Use 'VALID', 'SAME' or "
                "((top, bottom), (left, right))."
            )
        return padding.upper()
    try:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise ConfigError(f"{layer}: padding must be 'VALID', 'SAME' or two (lo, hi) pairs, got {padding!r}.") from None
    if len(pads) != 2 or any(p < 0 for pair_ in pads for p in pair_):
        raise ConfigError(f"{layer}: explicit padding needs two non-negative (lo, hi) pairs, got {padding!r}.")
    return pads


def explicit_pads(
    spatial: tuple[int, int], window: tuple[int, int], strides: tuple[int, int], padding: Padding
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The (lo, hi) pads per spatial axis that 'VALID' / 'SAME' / explicit padding means."""
    if isinstance(padding, str):
        return tuple(lax.padtype_to_pads(spatial, window, strides, padding))  # type: ignore[return-value]
    return tuple(padding)  # type: ignore[return-value]


def out_size(size: int, k: int, s: int, lo: int, hi: int) -> int:
    return (size + lo + hi - k) // s + 1


def Conv2D(
    features: int,
    kernel: int | Sequence[int] = 3,
    strides: int | Sequence[int] = 1,
    padding: Padding = "VALID",
    W_init: initializers.Initializer | None = None,
    b_init: initializers.Initializer | None = None,
    dtype=jnp.float32,
) -> Layer:
    """Convolution (cross-correlation, as in every DL library) with one kernel shared over space.

    Shapes: x ``(N, H, W, C)``, W ``(kh, kw, C, F)`` (HWIO), b ``(F,)``, y ``(N, H', W', F)``::

        y[n, i, j, f] = b[f] + sum_{p, q, c} x_pad[n, s_h i + p, s_w j + q, c] W[p, q, c, f]

    Backward (delta = dE/dy). Because W is shared by every position, its gradient *sums* over
    positions and patterns; it is the correlation of the input with the delta::

        dE/dW[p, q, c, f] = sum_{n, i, j} x_pad[n, s_h i + p, s_w j + q, c] delta[n, i, j, f]
        dE/db[f]          = sum_{n, i, j} delta[n, i, j, f]
        dE/dx             = full convolution of the (stride-dilated) delta with the flipped kernel,
                            cropped by the forward padding.
    """
    name = f"Conv2D({features})"
    check_positive(name, features=features)
    kh, kw = pair(name, "kernel", kernel)
    sh, sw = pair(name, "strides", strides)
    padding = check_padding(name, padding)
    W_init = W_init or initializers.glorot_normal()
    b_init = b_init or initializers.zeros

    def geometry(h: int, w: int):
        (pt, pb), (pl, pr) = explicit_pads((h, w), (kh, kw), (sh, sw), padding)
        oh, ow = out_size(h, kh, sh, pt, pb), out_size(w, kw, sw, pl, pr)
        if oh < 1 or ow < 1:
            raise ValueError(
                f"{name}: input {h}x{w} is smaller than the {kh}x{kw} kernel with padding "
                f"{padding!r}; use padding='SAME' or a smaller kernel."
            )
        return (pt, pb), (pl, pr), oh, ow

    def init(rng: PRNGKey, input_shape: Shape) -> tuple[Shape, Params]:
        check_rank(name, input_shape, 4, "(N, H, W, C)")
        n, h, w, c = input_shape
        check_positive(name, input_channels=c)
        _, _, oh, ow = geometry(h, w)
        k_W, k_b = jax.random.split(rng)
        params = {"W": W_init(k_W, (kh, kw, c, features), dtype), "b": b_init(k_b, (features,), dtype)}
        return (n, oh, ow, features), params

    def _check(params: Params, x: Array) -> None:
        check_rank(name, x.shape, 4, "(N, H, W, C)")
        W = params.get("W") if isinstance(params, dict) else None
        c = W.shape[2] if W is not None and W.ndim == 4 else x.shape[-1]
        check_dict_params(name, params, {"W": (kh, kw, c, features), "b": (features,)})
        check_last_dim(name, x.shape, c, "channels")
        geometry(x.shape[1], x.shape[2])

    def apply(params: Params, x: Array, **kwargs) -> Array:
        del kwargs
        _check(params, x)
        pads = explicit_pads(x.shape[1:3], (kh, kw), (sh, sw), padding)
        dtype = jnp.result_type(x, params["W"])  # promote like x @ W does
        z = lax.conv_general_dilated(
            x.astype(dtype), params["W"].astype(dtype), (sh, sw), pads, dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        return z + params["b"].reshape(1, 1, 1, features)

    def backward(params: Params, x: Array, y: Array, dy: Array) -> tuple[Params, Array]:
        del y
        n, h, w, c = x.shape
        (pt, pb), (pl, pr), oh, ow = geometry(h, w)
        dtype = jnp.result_type(x, params["W"], dy)
        # Rows/cols of the padded input past the last window (stride remainder): no delta reaches them.
        extra_h = h + pt + pb - (sh * (oh - 1) + kh)
        extra_w = w + pl + pr - (sw * (ow - 1) + kw)
        # dW: treat channels as the batch and patterns as the contracted feature; the delta is the
        # kernel, dilated by the stride. The forward padding goes into the convolution itself (no
        # padded copy of x), the unused rows/cols are cut by a negative high pad (no slice after).
        dW = lax.conv_general_dilated(
            x.astype(dtype),
            dy.astype(dtype),
            window_strides=(1, 1),
            padding=((pt, pb - extra_h), (pl, pr - extra_w)),
            rhs_dilation=(sh, sw),
            dimension_numbers=("CHWN", "IHWO", "HWNC"),
        )
        db = jnp.sum(dy, axis=(0, 1, 2))
        # dx: scatter every delta back through the kernel = full convolution of the dilated delta
        # with the spatially flipped kernel (in/out channels swapped). The full padding k - 1 less
        # the forward padding (negative where it crops) gives dE/dx at exactly x's size, the same
        # pads as jax.grad's transpose rule, with no oversized result to crop.
        dx = lax.conv_general_dilated(
            dy.astype(dtype),
            params["W"][::-1, ::-1].astype(dtype),
            window_strides=(1, 1),
            padding=((kh - 1 - pt, kh - 1 - pb + extra_h), (kw - 1 - pl, kw - 1 - pr + extra_w)),
            lhs_dilation=(sh, sw),
            dimension_numbers=("NHWC", "HWOI", "NHWC"),
        ).astype(x.dtype)
        return {"W": dW.astype(params["W"].dtype), "b": db}, dx

    return Layer(name, init, apply, backward)
