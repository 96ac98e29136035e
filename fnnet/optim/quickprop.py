"""Quickprop (Fahlman 1988): a per-weight secant (quadratic) jump, guarded by heuristics.

Each weight's error curve is taken as a parabola through the last two slopes, and the weight jumps
to its minimum. With S(t) = ∂E/∂w(t) + d·w(t) (slope plus the optional weight-decay term)::

    quadratic jump   Δw(t) = S(t) / (S(t-1) - S(t)) · Δw(t-1)

The heuristics, per weight, exactly as implemented here:

1. Δw(t-1) = 0 (the first step, or after a zero step): plain gradient descent, Δw(t) = -ε S(t).
2. Otherwise, if S(t) has the same sign as S(t-1) and |S(t)| >= μ/(1+μ)·|S(t-1)| (the jump would
   be larger than μ times the last step, infinite, or uphill): Δw(t) = μ Δw(t-1) (maximum growth
   factor μ).
3. Otherwise the quadratic jump above.
4. In cases 2 and 3 the gradient term -ε S(t) is added when S(t) has the same sign as S(t-1)
   (the minimum is not yet crossed); after a sign change the jump is used alone.

"Same sign as S(t-1)" follows the paper's description. Fahlman's C implementation, and code
ported from it, test instead whether -S(t) points the way Δw(t-1) went. The two tests agree on
every state this rule reaches from its initial state, because every Δw(t) it takes is 0 or
opposite in sign to S(t) (tests/reference/quickprop_reference.py uses the other form, so the
reference test checks this equivalence on random slope sequences).

Deviations from FANN: no ε/num_data scaling (pass the scaled ε yourself), no |Δw(t-1)| > 0.001
threshold for the quadratic branch (Fahlman's zero test instead), no ±1500 weight clipping, and
the decay term is written for ∂E/∂w rather than FANN's negated slope, so FANN's
``quickprop_decay = -0.0001`` is ``decay=1e-4`` here (S = ∂E/∂w + 1e-4·w, the slope of
E + 0.5e-4·||w||²).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from fnnet.errors import ConfigError
from fnnet.optim._common import check, concrete, leaf_cast, unzip
from fnnet.typing import Params


class QuickpropState(NamedTuple):
    """State of :func:`quickprop`; both fields have the params' tree and dtypes.

    Attributes:
      S_prev: the previous slope S(t-1) = ∂E/∂w(t-1) + d·w(t-1) (zero before the first step).
      delta_w_prev: the previous weight change Δw(t-1) (zero before the first step).
    """

    S_prev: Params
    delta_w_prev: Params


def quickprop(
    learning_rate: float | jax.Array,
    mu: float | jax.Array = 1.75,
    decay: float | jax.Array = 0.0,
) -> optax.GradientTransformation:
    """Fahlman's Quickprop, with maximum growth factor and gradient fallback (see module doc).

    Per weight, with S(t) = ∂E/∂w(t) + decay·w(t) and shrink = μ/(1+μ)::

        Δw(t-1) = 0:                              Δw(t) = -ε S(t)
        S(t)S(t-1) > 0, |S(t)| >= shrink|S(t-1)|: Δw(t) = μ Δw(t-1)                 - ε S(t)
        S(t)S(t-1) > 0, otherwise:                Δw(t) = S(t)/(S(t-1)-S(t)) Δw(t-1) - ε S(t)
        S(t)S(t-1) <= 0:                          Δw(t) = S(t)/(S(t-1)-S(t)) Δw(t-1)

    Quickprop assumes full-batch slopes (each weight's parabola is fitted to E, not to a sample).

    Args:
      learning_rate: ε > 0, the gradient-descent term's rate. FANN uses its learning_rate divided
        by the number of patterns (summed slopes); Fahlman tuned ε per problem.
      mu: maximum growth factor μ > 0; Fahlman's default 1.75 (also FANN's).
      decay: weight-decay coefficient d >= 0 added to each slope; FANN's default
        ``quickprop_decay = -0.0001`` is ``decay=1e-4`` here (FANN negates the slope). Default 0:
        no decay, the rule as a pure function of the slopes. When it is nonzero (or traced),
        ``update`` needs ``params``.
      Every numeric argument may be a traced 0-d array; range checks then skip it.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`QuickpropState`; the update is Δw(t),
      to be added to the params.

    References:
      Fahlman (1988), "An empirical study of learning speed in back-propagation networks",
      CMU-CS-88-162. FANN ``fann_update_weights_quickprop`` (libfann/fann) for the defaults.
    """
    eps = concrete("quickprop", "learning_rate", learning_rate)
    if eps is not None:
        check(eps > 0, "quickprop", f"learning_rate must be > 0, got {eps}; try 0.1 / num_data")
    m = concrete("quickprop", "mu", mu)
    if m is not None:
        check(m > 0, "quickprop", f"mu must be > 0, got {m}; Fahlman's default is 1.75")
    d = concrete("quickprop", "decay", decay)
    if d is not None:
        check(d >= 0, "quickprop", f"decay must be >= 0, got {d}; FANN's -1e-4 is decay=1e-4 here")
    needs_params = d is None or d != 0.0

    def init_fn(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return QuickpropState(S_prev=zeros, delta_w_prev=zeros)

    def leaf(g, w, S_prev, dw_prev):
        e, u = leaf_cast(learning_rate, dw_prev), leaf_cast(mu, dw_prev)
        S = g.astype(dw_prev.dtype)
        if w is not None:
            S = S + leaf_cast(decay, dw_prev) * w
        same = jnp.sign(S) * jnp.sign(S_prev) > 0
        capped = same & (jnp.abs(S) >= (u / (1 + u)) * jnp.abs(S_prev))
        denom = S_prev - S
        safe = jnp.where(denom == 0, jnp.ones_like(denom), denom)
        jump = jnp.where(capped, u * dw_prev, S / safe * dw_prev)
        gradient_term = -e * S
        dw = jnp.where(
            dw_prev == 0, gradient_term, jump + jnp.where(same, gradient_term, jnp.zeros_like(S))
        )
        return dw.astype(g.dtype), S, dw

    def update_fn(updates, state, params=None):
        if needs_params and params is None:
            raise ConfigError(
                "quickprop: decay != 0 adds decay*w to each slope, so update needs the params: "
                "call update(grads, state, params), or build quickprop(..., decay=0.0)"
            )
        if needs_params:
            out = jax.tree.map(leaf, updates, params, state.S_prev, state.delta_w_prev)
        else:
            out = jax.tree.map(
                lambda g, s, dw: leaf(g, None, s, dw), updates, state.S_prev, state.delta_w_prev
            )
        delta_w, S, dw = unzip(updates, out, 3)
        return delta_w, QuickpropState(S_prev=S, delta_w_prev=dw)

    return optax.GradientTransformation(init_fn, update_fn)
