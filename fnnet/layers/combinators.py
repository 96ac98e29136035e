"""Combinators: layers built from layers.

``serial`` is the multi-layer perceptron of the notes: it keeps every activation a_0 .. a_L on the
way forward and walks the deltas back, calling each layer's own backward. ``FanOut``, ``parallel``,
``FanInSum`` and ``FanInConcat`` build connections that skip layers (Rumelhart, Hinton & Williams
1986 allow them; residual networks are the modern case): where a value fans out, its deltas add up.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fnnet.errors import FnnetError, ParamsError, ShapeError
from fnnet.layers.activations import Identity
from fnnet.layers.base import Layer, check_no_params, check_positive
from fnnet.typing import Params, PRNGKey, Shape


def _in_context(where: str, err: FnnetError) -> FnnetError:
    """The same error type, its message prefixed with the layer's place in the stack
    (``where`` = 'serial layer i (Kind)', which already names the layer)."""
    msg = str(err)
    kind = where[where.index("(") + 1 : -1]
    if msg.startswith(kind + ": "):
        msg = msg[len(kind) + 2 :]
    return type(err)(f"{where}: {msg}")


def _wrap_value_error(where: str, err: ValueError) -> FnnetError:
    if isinstance(err, FnnetError):
        return _in_context(where, err)
    return ShapeError(f"{where}: {err}")


def _check_param_tuple(name: str, params: Params, n: int) -> None:
    if not isinstance(params, (tuple, list)) or len(params) != n:
        got = f"{type(params).__name__} of length {len(params)}" if isinstance(params, (tuple, list)) else type(params).__name__
        raise ParamsError(
            f"{name}: expected params as a tuple of {n} entries (one per layer, () for layers "
            f"without parameters), got {got}."
        )


def serial(*layers: Layer) -> Layer:
    """Compose layers in order: y = f_L(... f_2(f_1(x))). Params: a tuple, one entry per layer.

    Backward (the textbook algorithm)::

        forward:   a_0 = x,  a_l = f_l(a_{l-1})           (every a_l stored)
        backward:  delta_L = dE/da_L
                   (dE/dtheta_l, delta_{l-1}) = f_l.backward(theta_l, a_{l-1}, a_l, delta_l)
    """
    if not layers:
        raise ValueError("serial() needs at least one layer.")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(
                f"serial: argument {i} is {type(layer).__name__}, not an fnnet Layer "
                "(did you forget the parentheses, e.g. ReLU() rather than ReLU?)."
            )
    name = "serial(" + ", ".join(layer.name for layer in layers) + ")"
    where = [f"serial layer {i} ({layer.name})" for i, layer in enumerate(layers)]

    def init(rng: PRNGKey, input_shape: Shape) -> tuple[Shape, Params]:
        params = []
        shape = input_shape
        for i, (layer, key) in enumerate(zip(layers, jax.random.split(rng, len(layers)))):
            try:
                shape, p = layer.init(key, shape)
            except ValueError as e:
                raise _wrap_value_error(where[i], e) from None
            params.append(p)
        return shape, tuple(params)

    def fwd(params: Params, x):
        _check_param_tuple(name, params, len(layers))
        tapes = []
        for i, (layer, p) in enumerate(zip(layers, params)):
            try:
                x, tape = layer.fwd(p, x)
            except ValueError as e:
                raise _wrap_value_error(where[i], e) from None
            tapes.append(tape)
        return x, tuple(tapes)

    def bwd(params: Params, tapes, dy):
        grads, deltas = [None] * len(layers), [None] * len(layers)
        for i in reversed(range(len(layers))):
            grads[i], dy, deltas[i] = layers[i].bwd(params[i], tapes[i], dy)
        return tuple(grads), dy, tuple(deltas)

    def apply(params: Params, x, **kwargs):
        del kwargs
        _check_param_tuple(name, params, len(layers))
        for i, (layer, p) in enumerate(zip(layers, params)):
            try:
                x = layer.apply(p, x)
            except ValueError as e:
                raise _wrap_value_error(where[i], e) from None
        return x

    def backward(params: Params, x, y, dy):
        del y
        _, tapes = fwd(params, x)
        dparams, dx, _ = bwd(params, tapes, dy)
        return dparams, dx

    return Layer(name, init, apply, backward, fwd, bwd, children=tuple(layers))


def parallel(*layers: Layer) -> Layer:
    """Apply layer i to input i: (x_1, ..., x_n) -> (f_1(x_1), ..., f_n(x_n)). Params: a tuple."""
    if not layers:
        raise ValueError("parallel() needs at least one layer.")
    n = len(layers)
    name = "parallel(" + ", ".join(layer.name for layer in layers) + ")"
    where = [f"parallel branch {i} ({layer.name})" for i, layer in enumerate(layers)]

    def _check_inputs(xs) -> None:
        if not isinstance(xs, (tuple, list)) or len(xs) != n:
            raise ShapeError(f"{name}: expected a tuple of {n} inputs (use FanOut({n}) before it), got {type(xs).__name__}.")

    def init(rng: PRNGKey, input_shape) -> tuple[Shape, Params]:
        _check_inputs(input_shape)
        shapes, params = [], []
        for i, (layer, key, s) in enumerate(zip(layers, jax.random.split(rng, n), input_shape)):
            try:
                out, p = layer.init(key, s)
            except ValueError as e:
                raise _wrap_value_error(where[i], e) from None
            shapes.append(out)
            params.append(p)
        return tuple(shapes), tuple(params)

    def fwd(params: Params, xs):
        _check_param_tuple(name, params, n)
        _check_inputs(xs)
        ys, tapes = [], []
        for i, (layer, p, x) in enumerate(zip(layers, params, xs)):
            try:
                y, tape = layer.fwd(p, x)
            except ValueError as e:
                raise _wrap_value_error(where[i], e) from None
            ys.append(y)
            tapes.append(tape)
        return tuple(ys), tuple(tapes)

    def bwd(params: Params, tapes, dys):
        out = [layer.bwd(p, t, d) for layer, p, t, d in zip(layers, params, tapes, dys)]
        return tuple(o[0] for o in out), tuple(o[1] for o in out), tuple(o[2] for o in out)

    def apply(params: Params, xs, **kwargs):
        del kwargs
        return fwd(params, xs)[0]

    def backward(params: Params, xs, ys, dys):
        del ys
        dparams, dxs, _ = bwd(params, fwd(params, xs)[1], dys)
        return dparams, dxs

    return Layer(name, init, apply, backward, fwd, bwd, children=tuple(layers))


def FanOut(num: int) -> Layer:
    """x -> (x, ..., x), ``num`` copies. Backward: the copies' deltas add up, dE/dx = sum_i dy_i."""
    check_positive("FanOut", num=num)
    name = f"FanOut({num})"

    def init(rng: PRNGKey, input_shape: Shape):
        del rng
        return (input_shape,) * num, ()

    def apply(params: Params, x, **kwargs):
        del kwargs
        check_no_params(name, params)
        return (x,) * num

    def backward(params: Params, x, y, dys):
        del params, x, y
        return (), jax.tree_util.tree_map(lambda *d: sum(d[1:], d[0]), *dys)

    return Layer(name, init, apply, backward)


def _check_tuple_input(name: str, xs) -> None:
    if not isinstance(xs, (tuple, list)) or len(xs) < 1:
        raise ShapeError(f"{name}: expected a tuple of inputs (from parallel / FanOut), got {type(xs).__name__}.")


def FanInSum() -> Layer:
    """(x_1, ..., x_n) -> sum_i x_i (all shapes equal). Backward: every input gets the same delta."""
    name = "FanInSum"

    def init(rng: PRNGKey, input_shape):
        del rng
        _check_tuple_input(name, input_shape)
        first = tuple(input_shape[0])
        for i, s in enumerate(input_shape):
            if tuple(s) != first:
                raise ShapeError(f"{name}: input {i} has shape {tuple(s)}, input 0 has {first}; summed inputs must match.")
        return first, ()

    def apply(params: Params, xs, **kwargs):
        del kwargs
        check_no_params(name, params)
        _check_tuple_input(name, xs)
        for i, x in enumerate(xs):
            if x.shape != xs[0].shape:
                raise ShapeError(f"{name}: input {i} has shape {x.shape}, input 0 has {xs[0].shape}; summed inputs must match.")
        return sum(xs[1:], xs[0])

    def backward(params: Params, xs, y, dy):
        del params, y
        return (), tuple(dy for _ in xs)

    return Layer(name, init, apply, backward)


def FanInConcat(axis: int = -1) -> Layer:
    """(x_1, ..., x_n) -> concatenate along ``axis``. Backward: split the delta at the same sizes."""
    name = f"FanInConcat(axis={axis})"

    def init(rng: PRNGKey, input_shape):
        del rng
        _check_tuple_input(name, input_shape)
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        ax = axis % rank
        for i, s in enumerate(shapes):
            if len(s) != rank or s[:ax] + s[ax + 1 :] != shapes[0][:ax] + shapes[0][ax + 1 :]:
                raise ShapeError(f"{name}: input {i} has shape {s}, input 0 has {shapes[0]}; only axis {axis} may differ.")
        return (*shapes[0][:ax], sum(s[ax] for s in shapes), *shapes[0][ax + 1 :]), ()

    def apply(params: Params, xs, **kwargs):
        del kwargs
        check_no_params(name, params)
        _check_tuple_input(name, xs)
        try:
            return jnp.concatenate(xs, axis=axis)
        except (TypeError, ValueError) as e:
            raise ShapeError(f"{name}: cannot concatenate shapes {[x.shape for x in xs]}: {e}") from None

    def backward(params: Params, xs, y, dy):
        del params, y
        sizes = [x.shape[axis] for x in xs]
        cuts = [sum(sizes[: i + 1]) for i in range(len(sizes) - 1)]
        return (), tuple(jnp.split(dy, cuts, axis=axis))

    return Layer(name, init, apply, backward)


def Residual(*layers: Layer) -> Layer:
    """y = x + F(x), F = serial(*layers): a skip connection (He et al. 2016).

    Built from the primitives above: serial(FanOut(2), parallel(F, Identity()), FanInSum()).
    """
    return serial(FanOut(2), parallel(serial(*layers), Identity()), FanInSum())
