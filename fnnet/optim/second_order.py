"""Full-batch second-order training for small networks.

- :func:`levenberg_marquardt` / :func:`lm_step`: written here (optax has none; its PR #920 is
  open). It needs the per-pattern residuals r(w), not only the scalar loss, so it is a solver over
  a flattened parameter vector rather than an optax ``GradientTransformation``.
- :func:`lbfgs`: optax's own ``optax.lbfgs`` (a ``GradientTransformationExtraArgs`` with a zoom
  line search), re-exported; :func:`minimize_lbfgs` runs it to convergence.
- :func:`bfgs`: ``jax.scipy.optimize.minimize(method="BFGS")`` on the flattened parameters.

Every solver here is one ``lax.while_loop``: it runs under ``jit`` and ``vmap`` (a population of
initialisations), and the parameter count n must be small: LM forms and solves an n x n system.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.optimize
import optax
from jax import lax
from jax.flatten_util import ravel_pytree

from fnnet.optim._common import check, concrete
from fnnet.typing import Array, Params

ResidualFn = Callable[[Params], Array]
LossFn = Callable[[Params], Array]

LM_STOP_REASONS: tuple[str, ...] = ("max_iter", "goal", "min_grad", "mu_max")


class LMResult(NamedTuple):
    """What :func:`levenberg_marquardt` returns.

    Attributes:
      params: the final parameters, same tree as the initial ones.
      sse: E = Σ r² at ``params``, shape ().
      mu: the final damping μ, shape ().
      iterations: epochs run (one Jacobian each), int32 shape ().
      history: (max_iter + 1,) E before the first epoch and after each one, NaN after the stop.
      status: int32 shape (), index into :data:`LM_STOP_REASONS`.
    """

    params: Params
    sse: Array
    mu: Array
    iterations: Array
    history: Array
    status: Array


def _check_lm(mu, mu_inc, mu_dec, mu_max) -> None:
    values = {"mu": mu, "mu_inc": mu_inc, "mu_dec": mu_dec, "mu_max": mu_max}
    v = {k: concrete("levenberg_marquardt", k, x) for k, x in values.items()}
    rule = "levenberg_marquardt"
    if v["mu"] is not None:
        check(v["mu"] > 0, rule, f"mu must be > 0, got {v['mu']}; MATLAB trainlm uses 1e-3")
    if v["mu_inc"] is not None:
        check(v["mu_inc"] > 1, rule, f"mu_inc must be > 1, got {v['mu_inc']}; default 10")
    if v["mu_dec"] is not None:
        message = f"mu_dec must be in (0, 1), got {v['mu_dec']}; default 0.1"
        check(0 < v["mu_dec"] < 1, rule, message)
    if v["mu"] is not None and v["mu_max"] is not None:
        check(v["mu"] <= v["mu_max"], rule, f"need mu <= mu_max, got {v['mu']} > {v['mu_max']}")


def _flatten(residual_fn: ResidualFn, params: Params):
    x0, unravel = ravel_pytree(params)
    check(
        jnp.issubdtype(x0.dtype, jnp.floating),
        "levenberg_marquardt",
        f"params must be floating point, got {x0.dtype}",
    )

    def r_flat(x):
        return jnp.ravel(residual_fn(unravel(x))).astype(x.dtype)

    m = jax.eval_shape(r_flat, x0).shape[0]
    # Forward mode costs one pass per parameter, reverse mode one per residual: take the cheaper.
    jac = jax.jacfwd(r_flat) if x0.size <= m else jax.jacrev(r_flat)
    return x0, unravel, r_flat, jac


def _epoch(r_flat, x, r, J, mu, mu_inc, mu_dec, mu_max, mu_min):
    # One MATLAB-trainlm epoch at fixed J, r: raise μ until the trial lowers E, or μ > μ_max.
    sse = r @ r
    JtJ, Jtr = J.T @ J, J.T @ r
    eye = jnp.eye(x.size, dtype=x.dtype)

    def cast(h):
        return jnp.asarray(h, dtype=x.dtype)

    def cond(c):
        return jnp.logical_not(c[4]) & (c[3] <= cast(mu_max))

    def body(c):
        mu = c[3]
        dx = jnp.linalg.solve(JtJ + mu * eye, -Jtr)  # (JᵀJ + μI) Δx = -Jᵀr
        x_try = x + dx
        r_try = r_flat(x_try)
        sse_try = r_try @ r_try
        ok = sse_try < sse  # NaN/Inf trials are rejected too
        mu_ok = jnp.maximum(mu * cast(mu_dec), cast(mu_min))
        return (
            jnp.where(ok, x_try, x),
            jnp.where(ok, r_try, r),
            jnp.where(ok, sse_try, sse),
            jnp.where(ok, mu_ok, mu * cast(mu_inc)),
            ok,
        )

    return lax.while_loop(cond, body, (x, r, sse, cast(mu), jnp.asarray(False)))


def lm_step(
    residual_fn: ResidualFn,
    params: Params,
    mu: float | Array,
    *,
    mu_inc: float = 10.0,
    mu_dec: float = 0.1,
    mu_max: float = 1e10,
    mu_min: float = 1e-20,
) -> tuple[Params, Array, Array]:
    """One Levenberg-Marquardt epoch (MATLAB ``trainlm``'s inner loop).

    With r = residual_fn(params) flattened to (m,), J = ∂r/∂w of shape (m, n), E = Σ r²::

        repeat:  solve (JᵀJ + μI) Δw = -Jᵀr
                 if E(w + Δw) < E(w): w ← w + Δw, μ ← max(μ·μ_dec, μ_min), stop
                 else:                μ ← μ·μ_inc
        until μ > μ_max   (then w is unchanged and the returned μ exceeds μ_max)

    J is evaluated once per epoch (``jax.jacfwd`` when n <= m, else ``jax.jacrev``); the damping
    term is Levenberg's μI, as in MATLAB, not Marquardt's μ·diag(JᵀJ).

    Args:
      residual_fn: params -> residuals of any shape (e.g. (batch, out) = y - t), real floating.
      params: a pytree of floating arrays; flattened with ``jax.flatten_util.ravel_pytree``.
      mu: current damping μ > 0.
      mu_inc, mu_dec, mu_max, mu_min: μ's growth and shrink factors and bounds (MATLAB trainlm
        defaults 10, 0.1, 1e10; mu_min is trainlm's 1e-20 floor).

    Returns:
      (params, mu, sse): the new params (same tree), the new μ, and E = Σ r² at the new params.

    References:
      Levenberg (1944); Marquardt (1963); Hagan & Menhaj (1994), "Training feedforward networks
      with the Marquardt algorithm"; MATLAB Deep Learning Toolbox ``trainlm``.
    """
    _check_lm(mu, mu_inc, mu_dec, mu_max)
    return _lm_step(residual_fn, params, mu, mu_inc, mu_dec, mu_max, mu_min)


@functools.partial(jax.jit, static_argnums=0)
def _lm_step(residual_fn, params, mu, mu_inc, mu_dec, mu_max, mu_min):
    x, unravel, r_flat, jac = _flatten(residual_fn, params)
    x, _, sse, mu, _ = _epoch(r_flat, x, r_flat(x), jac(x), mu, mu_inc, mu_dec, mu_max, mu_min)
    return unravel(x), mu, sse


def levenberg_marquardt(
    residual_fn: ResidualFn,
    params: Params,
    *,
    mu: float | Array = 1e-3,
    mu_inc: float = 10.0,
    mu_dec: float = 0.1,
    mu_max: float = 1e10,
    mu_min: float = 1e-20,
    max_iter: int = 100,
    goal: float | Array = 0.0,
    min_grad: float | Array = 1e-7,
) -> LMResult:
    """Train to a sum-of-squares goal with Levenberg-Marquardt epochs (see :func:`lm_step`).

    Stops after ``max_iter`` epochs, or when E = Σ r² <= goal, or when the gradient of E,
    ‖2Jᵀr‖₂, falls below ``min_grad``, or when μ exceeds ``mu_max`` (no damping lowers E): the
    stop rules and defaults of MATLAB ``trainlm`` (whose ``goal`` is on its performance function;
    here it is on the SSE). One ``lax.while_loop``, compiled on the first call with
    ``residual_fn`` and ``max_iter`` static (pass the same function object again to reuse the
    compilation); it also runs inside ``jax.jit`` and under ``jax.vmap`` over initial params.

    Args:
      residual_fn: params -> residuals (any shape); the loss minimised is E = Σ r².
      params: initial params, a pytree of floating arrays with n leaves-elements in total.
      mu, mu_inc, mu_dec, mu_max, mu_min: damping schedule, as in :func:`lm_step`.
      max_iter: maximum number of epochs (static Python int >= 1).
      goal: stop when E <= goal.
      min_grad: stop when ‖2Jᵀr‖₂ < min_grad.

    Returns:
      An :class:`LMResult`.

    References:
      Hagan & Menhaj (1994); MATLAB ``trainlm`` (mu 1e-3, mu_dec 0.1, mu_inc 10, mu_max 1e10,
      min_grad 1e-7).
    """
    _check_lm(mu, mu_inc, mu_dec, mu_max)
    check(
        isinstance(max_iter, int) and max_iter >= 1,
        "levenberg_marquardt",
        f"max_iter must be a Python int >= 1 (it sizes the history), got {max_iter!r}",
    )
    for name, value in (("goal", goal), ("min_grad", min_grad)):
        v = concrete("levenberg_marquardt", name, value)
        if v is not None:
            check(v >= 0, "levenberg_marquardt", f"{name} must be >= 0, got {v}")
    hyper = (mu, mu_inc, mu_dec, mu_max, mu_min, goal, min_grad)
    return _levenberg_marquardt(residual_fn, max_iter, params, *hyper)


# Compiled once per (residual_fn, max_iter, shapes): reuse one residual_fn object across calls.
@functools.partial(jax.jit, static_argnums=(0, 1))
def _levenberg_marquardt(
    residual_fn, max_iter, params, mu, mu_inc, mu_dec, mu_max, mu_min, goal, min_grad
):
    x0, unravel, r_flat, jac = _flatten(residual_fn, params)
    dtype = x0.dtype
    goal_, min_grad_ = jnp.asarray(goal, dtype), jnp.asarray(min_grad, dtype)

    def grad_norm(J, r):
        return jnp.linalg.norm(2 * (J.T @ r))

    def cond(c):
        _, r, J, sse, mu_, it, _ = c
        running = (it < max_iter) & (sse > goal_) & (mu_ <= jnp.asarray(mu_max, dtype))
        return running & (grad_norm(J, r) >= min_grad_)

    def body(c):
        x, r, J, sse, mu_, it, history = c
        x, r, sse, mu_, ok = _epoch(r_flat, x, r, J, mu_, mu_inc, mu_dec, mu_max, mu_min)
        J = lax.cond(ok, jac, lambda _: J, x)
        return x, r, J, sse, mu_, it + 1, history.at[it + 1].set(sse)

    r0 = r_flat(x0)
    sse0 = r0 @ r0
    history = jnp.full((max_iter + 1,), jnp.nan, dtype).at[0].set(sse0)
    init = (x0, r0, jac(x0), sse0, jnp.asarray(mu, dtype), jnp.asarray(0, jnp.int32), history)
    x, r, J, sse, mu_, it, history = lax.while_loop(cond, body, init)
    status = jnp.select(
        [sse <= goal_, mu_ > jnp.asarray(mu_max, dtype), grad_norm(J, r) < min_grad_],
        [1, 3, 2],
        default=0,
    ).astype(jnp.int32)
    return LMResult(unravel(x), sse, mu_, it, history, status)


def lbfgs(
    learning_rate: optax.ScalarOrSchedule | None = None,
    memory_size: int = 10,
    scale_init_precond: bool = True,
    **kwargs: Any,
) -> optax.GradientTransformationExtraArgs:
    """L-BFGS, provided by optax: returns ``optax.lbfgs(...)`` unchanged.

    optax's L-BFGS (Nocedal 1980; Liu & Nocedal 1989) uses a zoom line search (strong Wolfe) by
    default, so its ``update`` needs ``value=``, ``grad=`` and ``value_fn=`` besides the
    gradients; see :func:`minimize_lbfgs` for the loop. ``kwargs`` (e.g. ``linesearch=``) go to
    ``optax.lbfgs``.

    Args:
      learning_rate: optional scale on the step (``None``: use the line search's step).
      memory_size: number of (s, y) pairs kept (>= 1).
      scale_init_precond: scale the initial inverse Hessian by sᵀy / yᵀy.
      **kwargs: passed on to ``optax.lbfgs``.
    """
    check(
        isinstance(memory_size, int) and memory_size >= 1,
        "lbfgs",
        f"memory_size must be an int >= 1, got {memory_size!r}; default 10",
    )
    return optax.lbfgs(
        learning_rate=learning_rate,
        memory_size=memory_size,
        scale_init_precond=scale_init_precond,
        **kwargs,
    )


def minimize_lbfgs(
    loss_fn: LossFn, params: Params, *, max_iter: int = 100, tol: float = 1e-6, **kwargs: Any
) -> tuple[Params, Array, Array]:
    """Run optax's L-BFGS on a full-batch loss until ‖∇E‖₂ < tol or ``max_iter`` steps.

    Args:
      loss_fn: params -> scalar loss E (full batch).
      params: initial params (any pytree of floating arrays).
      max_iter: maximum number of L-BFGS steps.
      tol: gradient-norm tolerance.
      **kwargs: passed to :func:`lbfgs`.

    Returns:
      (params, loss, steps): the final params, E there, and the number of steps (int32 ()).
    """
    opt = lbfgs(**kwargs)
    value_and_grad = optax.value_and_grad_from_state(loss_fn)

    def step(carry):
        p, state = carry
        value, grad = value_and_grad(p, state=state)
        updates, state = opt.update(grad, state, p, value=value, grad=grad, value_fn=loss_fn)
        return optax.apply_updates(p, updates), state

    def cond(carry):
        _, state = carry
        k = optax.tree.get(state, "count")
        g_norm = optax.tree.norm(optax.tree.get(state, "grad"))
        return (k == 0) | ((k < max_iter) & (g_norm >= tol))

    p, state = lax.while_loop(cond, step, (params, opt.init(params)))
    return p, loss_fn(p), optax.tree.get(state, "count")


def bfgs(
    loss_fn: LossFn, params: Params, *, max_iter: int | None = None, gtol: float = 1e-5
) -> tuple[Params, Any]:
    """Full BFGS from ``jax.scipy.optimize.minimize(method="BFGS")`` on flattened params.

    Args:
      loss_fn: params -> scalar loss (full batch).
      params: initial params (any pytree of floating arrays; flattened with ``ravel_pytree``).
      max_iter: maximum iterations (``None``: jax's default, 200 x number of parameters).
      gtol: stop when the gradient's infinity norm is below ``gtol``.

    Returns:
      (params, result): the final params (same tree) and jax's ``OptimizeResults`` (fields ``x``,
      ``success``, ``status``, ``fun``, ``jac``, ``hess_inv``, ``nfev``, ``njev``, ``nit``).
    """
    x0, unravel = ravel_pytree(params)
    result = jax.scipy.optimize.minimize(
        lambda x: loss_fn(unravel(x)),
        x0,
        method="BFGS",
        options={"maxiter": max_iter, "gtol": gtol},
    )
    return unravel(result.x), result
