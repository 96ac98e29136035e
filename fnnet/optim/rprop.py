"""Rprop, all four variants of Igel & Hüsken (2000), as one optax transformation.

Notation (per weight w_ij, dropped below): E the total (full-batch) error, ∂E/∂w(t) its slope at
step t, Δ(t) > 0 the weight's own step size, Δw(t) the change added to w at step t. Every variant
first adapts the step size from the sign of ∂E/∂w(t-1)·∂E/∂w(t)::

    > 0:  Δ(t) = min(Δ(t-1)·η⁺, Δ_max)
    < 0:  Δ(t) = max(Δ(t-1)·η⁻, Δ_min)
    = 0:  Δ(t) = Δ(t-1)

and then moves:

=======  ============================  ======================================================
variant  product >= 0                  product < 0 (the slope changed sign)
=======  ============================  ======================================================
rprop+   Δw(t) = -sign(∂E/∂w(t))·Δ(t)  Δw(t) = -Δw(t-1) (weight-backtracking); ∂E/∂w(t) := 0
rprop-   Δw(t) = -sign(∂E/∂w(t))·Δ(t)  Δw(t) = -sign(∂E/∂w(t))·Δ(t) (no backtracking)
irprop+  Δw(t) = -sign(∂E/∂w(t))·Δ(t)  Δw(t) = -Δw(t-1) if E(t) > E(t-1) else 0; ∂E/∂w(t) := 0
irprop-  Δw(t) = -sign(∂E/∂w(t))·Δ(t)  Δw(t) = 0; ∂E/∂w(t) := 0
=======  ============================  ======================================================

"∂E/∂w(t) := 0" means the slope *stored* for the next step is zero, so the next product is 0 and
the step after a sign change is taken with Δ unchanged. Rprop+ is Riedmiller & Braun's (1993)
original; the other three are Igel & Hüsken's.

Known implementations: ``torch.optim.Rprop`` is iRprop- (it zeroes the stored gradient at a sign
change; the docs name it after Riedmiller & Braun). FANN's ``FANN_TRAIN_RPROP`` is documented as
iRprop- with deviations (libfann/fann#85). ``optax.rprop`` (0.2.x) adapts the step sizes as iRprop-
does but returns the *previous* step's update (first update zero; pending step dropped at a sign
change; google-deepmind/optax pull 1725): its update at step t+1 equals ``rprop("irprop-")``'s
update at step t, except where ``irprop-`` sees a sign change at t+1, where optax emits 0.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from fnnet.errors import ConfigError
from fnnet.optim._common import check, closest, concrete, leaf_cast, scalar_dtype, unzip
from fnnet.typing import Array, Params

RPROP_VARIANTS: tuple[str, ...] = ("rprop+", "rprop-", "irprop+", "irprop-")


class RpropState(NamedTuple):
    """State of :func:`rprop`; per-weight fields have the params' tree and dtypes.

    Attributes:
      Delta: step sizes Δ(t-1).
      dE_dw_prev: the stored slope ∂E/∂w(t-1) (zero after a sign change, except for rprop-).
      delta_w_prev: the change Δw(t-1) added at the last step; kept by the backtracking variants
        (rprop+, irprop+) that read it, zero for the others.
      E_prev: the error E(t-1) passed as ``value=`` at the last step, shape (), the largest finite
        value of its dtype before the first one (read by irprop+ only; kept by every variant when given).
    """

    Delta: Params
    dE_dw_prev: Params
    delta_w_prev: Params
    E_prev: Array


def _check_variant(variant: str) -> None:
    if variant not in RPROP_VARIANTS:
        raise ConfigError(
            f"rprop: unknown variant {variant!r}{closest(str(variant), RPROP_VARIANTS)}; "
            f"valid variants are {', '.join(RPROP_VARIANTS)}"
        )


def _check_hyperparams(eta_plus, eta_minus, step_init, step_min, step_max) -> None:
    v = {
        name: concrete("rprop", name, value)
        for name, value in {
            "eta_plus": eta_plus,
            "eta_minus": eta_minus,
            "step_init": step_init,
            "step_min": step_min,
            "step_max": step_max,
        }.items()
    }
    if v["eta_plus"] is not None:
        check(v["eta_plus"] > 1, "rprop", f"need eta_plus > 1, got {v['eta_plus']}; default 1.2")
    if v["eta_minus"] is not None:
        check(
            0 < v["eta_minus"] < 1,
            "rprop",
            f"need 0 < eta_minus < 1, got {v['eta_minus']}; default 0.5",
        )
    if v["step_min"] is not None:
        check(v["step_min"] > 0, "rprop", f"need step_min > 0, got {v['step_min']}; default 1e-6")
    for lo, hi in (("step_min", "step_init"), ("step_init", "step_max"), ("step_min", "step_max")):
        if v[lo] is not None and v[hi] is not None:
            check(
                v[lo] <= v[hi],
                "rprop",
                f"need 0 < step_min <= step_init <= step_max, got {lo}={v[lo]} > {hi}={v[hi]}; "
                "defaults are step_min=1e-6, step_init=0.1, step_max=50.0",
            )


def rprop(
    variant: str = "irprop-",
    eta_plus: float | jax.Array = 1.2,
    eta_minus: float | jax.Array = 0.5,
    step_init: float | jax.Array = 0.1,
    step_min: float | jax.Array = 1e-6,
    step_max: float | jax.Array = 50.0,
) -> optax.GradientTransformationExtraArgs:
    """Resilient propagation: per-weight step sizes adapted from gradient signs only.

    The four variants and their equations are in this module's docstring. In short: the step size
    Δ grows by η⁺ while ∂E/∂w keeps its sign and shrinks by η⁻ when it flips; the weight moves by
    -sign(∂E/∂w)·Δ. At a flip, ``rprop+`` undoes the last change, ``irprop+`` undoes it only when
    the error rose, ``irprop-`` holds still, ``rprop-`` steps anyway.

    Rprop is a full-batch method: it reads only signs, so nine mini-batch slopes of +0.1 and one of
    -0.9 (sum zero) still make it walk nine steps one way and one step back (Hinton's example).

    Choice of ``step_init`` (Δ₀) = 0.1: Riedmiller & Braun (1993) use Δ₀ = 0.1 and FANN's
    ``rprop_delta_zero`` is 0.1; ``torch.optim.Rprop`` uses lr = 0.01 and MATLAB ``trainrp``
    delta0 = 0.07. We keep the paper's value: Rprop adapts Δ geometrically, so Δ₀ only sets the
    first few steps, and 0.1 is the value its authors tested. ``optax.rprop`` has no default.

    The sign test uses sign(∂E/∂w(t-1))·sign(∂E/∂w(t)) rather than the product of the slopes, the
    same test in exact arithmetic, without float32 underflow for tiny slopes.

    Args:
      variant: one of :data:`RPROP_VARIANTS`: ``"rprop+"``, ``"rprop-"``, ``"irprop+"``,
        ``"irprop-"`` (static). ``irprop-`` is the default, as in torch and FANN: it needs no error
        value and Igel & Hüsken found it as good as the others.
      eta_plus: growth factor η⁺ > 1.
      eta_minus: shrink factor η⁻ in (0, 1).
      step_init: Δ₀, the initial step size, step_min <= Δ₀ <= step_max.
      step_min: Δ_min > 0.
      step_max: Δ_max.
      Every numeric argument may be a traced 0-d array (a vmapped population, or
      ``optax.inject_hyperparams``); range checks then skip it.

    Returns:
      An ``optax.GradientTransformationExtraArgs``: ``update(grads, state, params=None, *,
      value=None, **extra_args)``; ``value`` is the loss E(t) at the current params, required by
      ``irprop+`` and ignored (but remembered) by the others. State: :class:`RpropState`.

    References:
      Riedmiller & Braun (1993), "A direct adaptive method for faster backpropagation learning:
      the RPROP algorithm", ICNN. Igel & Hüsken (2000), "Improving the Rprop learning algorithm",
      NC 2000 (the four variants and their names).
    """
    _check_variant(variant)
    _check_hyperparams(eta_plus, eta_minus, step_init, step_min, step_max)
    zero_on_flip = variant != "rprop-"
    backtracks = variant in ("rprop+", "irprop+")

    def init_fn(params):
        return RpropState(
            Delta=jax.tree.map(lambda p: jnp.full_like(p, leaf_cast(step_init, p)), params),
            dE_dw_prev=jax.tree.map(jnp.zeros_like, params),
            delta_w_prev=jax.tree.map(jnp.zeros_like, params),
            # "no previous error": the largest finite value, so E(t) > E_prev is False at the
            # first step as with +inf, and the state stays finite (checkpoints refuse NaN/Inf).
            E_prev=jnp.asarray(jnp.finfo(scalar_dtype(params)).max, dtype=scalar_dtype(params)),
        )

    def leaf(g, Delta_prev, g_prev, dw_prev, error_rose):
        product = jnp.sign(g_prev) * jnp.sign(g)
        hyper = (eta_plus, eta_minus, step_min, step_max)
        ep, em, lo, hi = (leaf_cast(h, Delta_prev) for h in hyper)
        Delta = jnp.where(
            product > 0,
            jnp.minimum(Delta_prev * ep, hi),
            jnp.where(product < 0, jnp.maximum(Delta_prev * em, lo), Delta_prev),
        )
        step = -jnp.sign(g).astype(Delta.dtype) * Delta
        flipped = product < 0
        if variant == "rprop-":
            on_flip = step
        elif variant == "irprop-":
            on_flip = jnp.zeros_like(step)
        elif variant == "rprop+":
            on_flip = -dw_prev
        else:  # irprop+
            on_flip = jnp.where(error_rose, -dw_prev, jnp.zeros_like(dw_prev))
        dw = jnp.where(flipped, on_flip, step)
        g_store = jnp.where(flipped, jnp.zeros_like(g), g) if zero_on_flip else g
        # Only the backtracking variants read Δw(t-1); the others keep the (zero) field as it is,
        # so the update is not stored twice and XLA fuses it into the parameter update.
        dw_store = dw if backtracks else dw_prev
        return dw.astype(g.dtype), Delta, g_store.astype(g_prev.dtype), dw_store

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is None and variant == "irprop+":
            raise ConfigError(
                "rprop(variant='irprop+') backtracks only when the error rose, so it needs the "
                "loss: call update(grads, state, params, value=loss) with the loss at the current "
                "params (optax.chain forwards value=), or use variant='irprop-'"
            )
        if value is None:
            E = state.E_prev
            error_rose = jnp.asarray(False)
        else:
            E = jnp.asarray(value, dtype=state.E_prev.dtype)
            check(E.shape == (), "rprop", f"value= must be the scalar loss, got shape {E.shape}")
            error_rose = E > state.E_prev
        out = jax.tree.map(
            lambda g, d, gp, dp: leaf(g, d, gp, dp, error_rose),
            updates,
            state.Delta,
            state.dE_dw_prev,
            state.delta_w_prev,
        )
        delta_w, Delta, dE_dw, delta_w_prev = unzip(updates, out, 4)
        return delta_w, RpropState(Delta, dE_dw, delta_w_prev, E)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
