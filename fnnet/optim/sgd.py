"""Gradient descent with and without momentum, in the lecture notes' form.

    Δw(t) = -η ∂E/∂w(t) + α Δw(t-1),        w(t+1) = w(t) + Δw(t)

Each rule is an optax ``GradientTransformation`` whose output is the Δw to *add* to the params
(``optax.apply_updates``), so descent is already in the sign.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from fnnet.optim._common import check, concrete, leaf_cast
from fnnet.typing import Params


class MomentumState(NamedTuple):
    """State of :func:`momentum`.

    Attributes:
      v: the velocity v(t-1), same tree and dtypes as params. For classical momentum it *is* the
        previous weight change Δw(t-1) of the lecture notes; for Nesterov it is the velocity,
        and the weight change applied is α v(t) - η ∂E/∂w(t).
    """

    v: Params


def _check_learning_rate(rule: str, learning_rate) -> None:
    lr = concrete(rule, "learning_rate", learning_rate)
    if lr is not None:
        check(lr > 0, rule, f"learning_rate must be > 0, got {lr}; try learning_rate=0.1")


def sgd(learning_rate: float | jax.Array) -> optax.GradientTransformation:
    """Plain gradient descent: Δw(t) = -η ∂E/∂w(t).

    Args:
      learning_rate: η > 0, a Python float or a 0-d array (may be traced, e.g. under ``vmap``;
        for a schedule wrap the factory with ``optax.inject_hyperparams``).

    Returns:
      A stateless ``optax.GradientTransformation`` mapping gradients to -η·gradients, leaf dtypes
      preserved. Equal to ``optax.sgd(learning_rate)``.

    References:
      Rumelhart, Hinton & Williams (1986), "Learning representations by back-propagating errors".
    """
    _check_learning_rate("sgd", learning_rate)

    def update_fn(updates, state, params=None):
        del params
        return jax.tree.map(lambda g: -leaf_cast(learning_rate, g) * g, updates), state

    return optax.GradientTransformation(optax.init_empty_state, update_fn)


def momentum(
    learning_rate: float | jax.Array,
    alpha: float | jax.Array = 0.9,
    nesterov: bool = False,
) -> optax.GradientTransformation:
    """Gradient descent with momentum (classical or Nesterov), in velocity form.

    Classical (the lecture notes' rule, Rumelhart, Hinton & Williams 1986)::

        v(t)  = α v(t-1) - η ∂E/∂w(t),      Δw(t) = v(t)

    i.e. Δw(t) = -η ∂E/∂w(t) + α Δw(t-1). Nesterov's accelerated gradient, in the form of
    Sutskever et al. (2013) rewritten by Bengio et al. (2013) so that the gradient is taken at the
    current weights::

        v(t)  = α v(t-1) - η ∂E/∂w(t),      Δw(t) = α v(t) - η ∂E/∂w(t)

    With a constant η these equal ``optax.sgd(η, momentum=α, nesterov=...)`` step for step
    (optax keeps m = -v/η and scales afterwards; the two differ only in rounding). Under a
    changing η they differ: here η(t) scales only the new gradient, in optax it rescales the
    accumulated velocity too.

    Args:
      learning_rate: η > 0 (float or 0-d array, may be traced).
      alpha: momentum constant α in [0, 1) (float or 0-d array, may be traced).
      nesterov: use Nesterov's look-ahead form (static Python bool).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`MomentumState`.

    References:
      Rumelhart, Hinton & Williams (1986); Sutskever, Martens, Dahl & Hinton (2013), "On the
      importance of initialization and momentum in deep learning"; Bengio, Boulanger-Lewandowski
      & Pascanu (2013), "Advances in optimizing recurrent networks".
    """
    rule = "nesterov" if nesterov else "momentum"
    _check_learning_rate(rule, learning_rate)
    a = concrete(rule, "alpha", alpha)
    if a is not None:
        check(0 <= a < 1, rule, f"alpha must lie in [0, 1), got {a}; the notes suggest alpha=0.9")
    check(isinstance(nesterov, bool), rule, f"nesterov must be a bool, got {nesterov!r}")

    def init_fn(params):
        return MomentumState(v=jax.tree.map(jnp.zeros_like, params))

    def leaf(g, v_prev):
        eta, alp = leaf_cast(learning_rate, v_prev), leaf_cast(alpha, v_prev)
        v = alp * v_prev - eta * g
        delta_w = alp * v - eta * g if nesterov else v
        return delta_w.astype(g.dtype), v

    def update_fn(updates, state, params=None):
        del params
        out = jax.tree.map(leaf, updates, state.v)
        delta_w = jax.tree.map(lambda _, o: o[0], updates, out)
        v = jax.tree.map(lambda _, o: o[1], updates, out)
        return delta_w, MomentumState(v=v)

    return optax.GradientTransformation(init_fn, update_fn)


def nesterov(
    learning_rate: float | jax.Array, alpha: float | jax.Array = 0.9
) -> optax.GradientTransformation:
    """Nesterov momentum: ``momentum(learning_rate, alpha, nesterov=True)``."""
    return momentum(learning_rate, alpha, nesterov=True)
