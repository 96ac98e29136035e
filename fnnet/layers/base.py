"""The layer record: pure functions for init, forward and the hand-derived backward pass.

A layer is stax-compatible in signature::

    init(rng, input_shape) -> (output_shape, params)
    apply(params, x, **kw) -> y                   # accepts and ignores rng= like stax layers
    backward(params, x, y, dy) -> (dparams, dx)   # dy = dE/dy, dx = dE/dx, dparams = dE/dparams

``backward`` needs only the layer's own input ``x`` and output ``y``: that is the textbook
algorithm of the lecture notes. On the way forward every activation a_l is stored; on the way
back each layer turns delta at its output into its parameter gradient and the delta at its input.

Composites (``serial``, ``parallel``) also expose the tape form used by ``fnnet.backprop``::

    fwd(params, x) -> (y, tape)                   # tape = what backward needs (here: x and y)
    bwd(params, tape, dy) -> (dparams, dx, deltas)

``deltas`` mirrors the layer structure and holds dE/d(output) of every primitive layer: for a
Dense layer that is delta_l = dE/dz_l, the quantity whose norm shows vanishing gradients.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from fnnet.errors import ParamsError, ShapeError
from fnnet.typing import Params, Shape


def _primitive_fwd(apply: Callable) -> Callable:
    def fwd(params: Params, x: Any) -> tuple[Any, tuple[Any, Any]]:
        y = apply(params, x)
        return y, (x, y)

    return fwd


def _primitive_bwd(backward: Callable) -> Callable:
    def bwd(params: Params, tape: tuple[Any, Any], dy: Any) -> tuple[Params, Any, Any]:
        x, y = tape
        dparams, dx = backward(params, x, y, dy)
        return dparams, dx, dy

    return bwd


@dataclasses.dataclass(frozen=True, eq=False)
class Layer:
    """A layer as a record of pure functions (see the module docstring for the contract).

    Iterating a layer yields ``(init, apply)``, so it drops straight into
    ``jax.example_libraries.stax.serial``; ``layer.stax`` is the same pair as a tuple.
    """

    name: str
    init: Callable[..., tuple[Shape, Params]]
    apply: Callable[..., Any]
    backward: Callable[..., tuple[Params, Any]]
    fwd: Callable[..., tuple[Any, Any]] | None = None
    bwd: Callable[..., tuple[Params, Any, Any]] | None = None
    children: tuple["Layer", ...] = ()  # the layers a combinator is made of, in params order

    def __post_init__(self) -> None:
        if self.fwd is None:
            object.__setattr__(self, "fwd", _primitive_fwd(self.apply))
        if self.bwd is None:
            object.__setattr__(self, "bwd", _primitive_bwd(self.backward))

    def __iter__(self):
        yield self.init
        yield self.apply

    @property
    def stax(self) -> tuple[Callable, Callable]:
        """The ``(init_fun, apply_fun)`` pair stax expects."""
        return self.init, self.apply

    def __repr__(self) -> str:
        return self.name

    def describe(self, path: tuple[Any, ...]) -> str:
        """The layer a params path leads to, e.g. ``(SequenceKey(2), DictKey('W'))`` ->
        ``'Dense(10)'`` in a serial stack (nested combinators are followed)."""
        layer = self
        for key in path:
            idx = getattr(key, "idx", None)
            if idx is None or not layer.children:
                break
            layer = layer.children[idx]
        return layer.name


# --------------------------------------------------------------------------------------------
# Checks shared by the layers: they run on static shapes, before anything is compiled.


def check_positive(layer: str, **values: Any) -> None:
    """Raise ``ValueError`` naming the layer if any size is not a positive integer."""
    for key, v in values.items():
        items = v if isinstance(v, tuple) else (v,)
        if not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in items):
            raise ShapeError(f"{layer}: {key} must be a positive integer (or tuple of them), got {v!r}.")


def check_rank(layer: str, x_shape: Shape, rank: int, layout: str) -> None:
    if len(x_shape) != rank:
        raise ShapeError(
            f"{layer}: expected input of rank {rank} {layout}, got shape {tuple(x_shape)}. "
            "Reshape the input or put a Flatten / reshape layer before this one."
        )


def check_last_dim(layer: str, x_shape: Shape, expected: int, what: str = "features") -> None:
    if not x_shape or x_shape[-1] != expected:
        raise ShapeError(
            f"{layer}: expected input with {expected} {what} in the last axis, got shape "
            f"{tuple(x_shape)}. The previous layer's output does not match this layer's input size."
        )


def check_dict_params(layer: str, params: Any, shapes: dict[str, Shape]) -> None:
    """Params must be a dict with exactly ``shapes``' keys and, where known, those shapes."""
    if not isinstance(params, dict) or set(params) != set(shapes):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ParamsError(
            f"{layer}: expected params dict with keys {sorted(shapes)}, got {got}. "
            "Pass the params returned by this model's init, in the same order."
        )
    for key, shape in shapes.items():
        got = tuple(getattr(params[key], "shape", ()))
        if got != tuple(shape):
            raise ParamsError(f"{layer}: params[{key!r}] should have shape {tuple(shape)}, got {got}.")


def check_no_params(layer: str, params: Any) -> None:
    if params != () and params is not None:
        raise ParamsError(f"{layer}: this layer has no parameters and expects params (), got {type(params).__name__}.")

