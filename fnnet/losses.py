"""Losses, each paired with its hand-derived gradient with respect to the network output.

Every loss is a ``Loss``: ``loss(y, t) -> scalar`` and ``loss.grad(y, t) -> dE/dy`` (same shape as
``y``). Shapes: ``y`` is ``(batch, k)`` (or ``(batch,)`` / ``(k,)``: any shape with the pattern
axis first); ``t`` has the same shape, except for the cross-entropies, which also take integer class
ids of shape ``(batch,)``.

Reductions (n = number of patterns = y.shape[0]; 1 for a single pattern of rank 1):

============================  ==================================================  =============
loss                          value                                               dE/dy
============================  ==================================================  =============
sse                           1/2 sum_p sum_i (y - t)^2  (the notes' E_TOTAL)     y - t
mse                           mean over every element of (y - t)^2                2 (y - t) / size
quadratic                     1/(2n) sum_p ||y_p - t_p||^2  (Nielsen)             (y - t) / n
softmax_cross_entropy         -1/n sum_p sum_i t_i log softmax(z)_i               (softmax(z) - t) / n
categorical_cross_entropy     -1/n sum_p sum_i t_i log y_i  (y: probabilities)    -t / (n y)
sigmoid_binary_cross_entropy  1/n sum_p sum_i [softplus(z) - t z]                 (sigmoid(z) - t) / n
============================  ==================================================  =============
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from fnnet.errors import ConfigError, ShapeError, closest_name
from fnnet.typing import Array


@dataclasses.dataclass(frozen=True, eq=False)
class Loss:
    """A scalar loss E(y, t) with its hand-derived gradient dE/dy."""

    name: str
    value: Callable[[Array, Array], Array]
    grad: Callable[[Array, Array], Array]
    classification: bool = False

    def __call__(self, y: Array, t: Array) -> Array:
        return self.value(y, t)

    def __repr__(self) -> str:
        return f"Loss({self.name})"


def _n_patterns(y: Array) -> int:
    return y.shape[0] if y.ndim > 1 else 1


def _check_same_shape(name: str, y: Array, t: Array) -> None:
    if y.shape != t.shape:
        raise ShapeError(
            f"{name}: output y has shape {y.shape} but target t has shape {t.shape}; they must match "
            "(one target per output unit and pattern)."
        )


def _check_class_ids(name: str, y: Array, t: Array) -> None:
    if t.shape != y.shape[:-1]:
        raise ShapeError(
            f"{name}: integer labels must have shape {y.shape[:-1]} (one class id per pattern), "
            f"got {t.shape}."
        )


def as_one_hot(name: str, y: Array, t: Array) -> Array:
    """Targets as one-hot/probability rows of y's shape and dtype; integer ids are expanded."""
    if jnp.issubdtype(t.dtype, jnp.integer):
        _check_class_ids(name, y, t)
        return jax.nn.one_hot(t, y.shape[-1], dtype=y.dtype)
    _check_same_shape(name, y, t)
    return t.astype(y.dtype)


# --- squared errors -------------------------------------------------------------------------


def _sse(y, t):
    _check_same_shape("sse", y, t)
    return 0.5 * jnp.sum((y - t) ** 2)


def _sse_grad(y, t):
    _check_same_shape("sse", y, t)
    return y - t


def _mse(y, t):
    _check_same_shape("mse", y, t)
    return jnp.mean((y - t) ** 2)


def _mse_grad(y, t):
    _check_same_shape("mse", y, t)
    return 2 * (y - t) / y.size


def _quadratic(y, t):
    _check_same_shape("quadratic", y, t)
    return jnp.sum((y - t) ** 2) / (2 * _n_patterns(y))


def _quadratic_grad(y, t):
    _check_same_shape("quadratic", y, t)
    return (y - t) / _n_patterns(y)


# --- cross-entropies ------------------------------------------------------------------------


def _softmax_parts(z):
    """The stable softmax's pieces over the class axis (kept): m = max_i z_i, e = exp(z - m),
    s = sum_i e_i; softmax(z) = e / s and log sum_i exp(z_i) = m + log s."""
    m = jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
    e = jnp.exp(z - m)
    return m, e, jnp.sum(e, axis=-1, keepdims=True)


def _class_index(name: str, z: Array, t: Array) -> Array:
    """Integer class ids t of shape z.shape[:-1] as an index of shape (..., 1) into z's class
    axis. An id outside [0, k) points past the end, so the picked logit is NaN and so is the loss
    (fit stops with a NonFiniteError): ids are checked where data is loaded, not in the step."""
    _check_class_ids(name, z, t)
    k = z.shape[-1]
    return jnp.where((t >= 0) & (t < k), t, k)[..., None]


def _softmax_ce(z, t):
    if not jnp.issubdtype(t.dtype, jnp.integer):
        onehot = as_one_hot("softmax_cross_entropy", z, t)
        return -jnp.sum(onehot * jax.nn.log_softmax(z, axis=-1)) / _n_patterns(z)
    # class ids: -log softmax(z)_t = m + log s - z_t, the target's logit picked (no one-hot rows)
    index = _class_index("softmax_cross_entropy", z, t)
    m, _, s = _softmax_parts(z)
    z_t = jnp.take_along_axis(z, index, axis=-1, mode="fill")  # NaN for an invalid id
    return jnp.sum(m + jnp.log(s) - z_t) / _n_patterns(z)


def _softmax_ce_grad(z, t):
    n = _n_patterns(z)
    if not jnp.issubdtype(t.dtype, jnp.integer):
        onehot = as_one_hot("softmax_cross_entropy", z, t)
        return (jax.nn.softmax(z, axis=-1) - onehot) / n
    # class ids: softmax(z) / n, then the one-hot target's 1/n taken off at each pattern's class
    index = _class_index("softmax_cross_entropy", z, t)
    _, e, s = _softmax_parts(z)
    k = z.shape[-1]
    delta = (e * (1 / (s * n))).reshape(-1, k)
    rows = jnp.arange(delta.shape[0])
    delta = delta.at[rows, index.reshape(-1)].add(-1 / n, mode="drop")
    return delta.reshape(z.shape)


def _categorical_ce(y, t):
    onehot = as_one_hot("categorical_cross_entropy", y, t)
    return -jnp.sum(jnp.where(onehot > 0, onehot * jnp.log(y), 0)) / _n_patterns(y)


def _categorical_ce_grad(y, t):
    onehot = as_one_hot("categorical_cross_entropy", y, t)
    return jnp.where(onehot > 0, -onehot / y, 0) / _n_patterns(y)


def _sigmoid_bce(z, t):
    _check_same_shape("sigmoid_binary_cross_entropy", z, t)
    t = t.astype(z.dtype)
    # softplus(z) - t z; softplus = logaddexp(z, 0) is stable *and* differentiable at z = 0
    # (max(z, 0) + log1p(exp(-|z|)) is stable too, but jax.grad of it is wrong at exactly 0).
    return jnp.sum(jax.nn.softplus(z) - t * z) / _n_patterns(z)


def _sigmoid_bce_grad(z, t):
    _check_same_shape("sigmoid_binary_cross_entropy", z, t)
    return (jax.nn.sigmoid(z) - t.astype(z.dtype)) / _n_patterns(z)


sse = Loss("sse", _sse, _sse_grad)
mse = Loss("mse", _mse, _mse_grad)
quadratic = Loss("quadratic", _quadratic, _quadratic_grad)
softmax_cross_entropy = Loss("softmax_cross_entropy", _softmax_ce, _softmax_ce_grad, classification=True)
categorical_cross_entropy = Loss(
    "categorical_cross_entropy", _categorical_ce, _categorical_ce_grad, classification=True
)
sigmoid_binary_cross_entropy = Loss("sigmoid_binary_cross_entropy", _sigmoid_bce, _sigmoid_bce_grad)

ALL: dict[str, Loss] = {
    loss.name: loss
    for loss in (sse, mse, quadratic, softmax_cross_entropy, categorical_cross_entropy, sigmoid_binary_cross_entropy)
}


def get(name: str) -> Loss:
    """The loss called ``name`` (for configs); unknown names suggest the closest valid one."""
    if name not in ALL:
        close = closest_name(name, ALL)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ConfigError(f"unknown loss {name!r}.{hint} Valid: {', '.join(ALL)}.")
    return ALL[name]
