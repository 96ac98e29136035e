"""Rprop+, Rprop-, iRprop+ and iRprop-, transcribed from the pseudo-code of Igel & Hüsken (2000).

Igel & Hüsken, "Improving the Rprop learning algorithm" (NC 2000) give each variant as a loop over
weights w_ij of the form (here for Rprop+)::

    for each w_ij do
      if dE/dw(t-1) * dE/dw(t) > 0 then
        Δ(t)   = min(Δ(t-1) * η+, Δmax)
        Δw(t)  = -sign(dE/dw(t)) * Δ(t)
        w(t+1) = w(t) + Δw(t)
      elseif dE/dw(t-1) * dE/dw(t) < 0 then
        Δ(t)   = max(Δ(t-1) * η-, Δmin)
        w(t+1) = w(t) - Δw(t-1)
        dE/dw(t) = 0
      elseif dE/dw(t-1) * dE/dw(t) = 0 then
        Δw(t)  = -sign(dE/dw(t)) * Δ(t)
        w(t+1) = w(t) + Δw(t)
      fi
    od

Each function below takes a whole slope sequence ``grads`` of shape (T, n) (dE/dw at steps
0..T-1 for n independent weights) and returns the weight changes actually applied, (T, n), and
the step sizes Δ(t), (T, n). The weights themselves are not needed: the rules read only slopes.
Initial state: Δ(-1) = step_init, dE/dw(-1) = 0, Δw(-1) = 0, E(-1) = +inf.
"""

from __future__ import annotations

import math

import numpy as np


def _sign(x: float) -> float:
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    return 0.0


def _run(step_fn, grads, step_init, errors=None):
    grads = np.asarray(grads, dtype=np.float64)
    T, n = grads.shape
    applied = np.zeros((T, n))
    steps = np.zeros((T, n))
    for i in range(n):
        weight = {"Delta": float(step_init), "g_prev": 0.0, "dw_prev": 0.0, "E_prev": math.inf}
        for t in range(T):
            E = None if errors is None else float(errors[t])
            applied[t, i] = step_fn(weight, float(grads[t, i]), E)
            steps[t, i] = weight["Delta"]
            if E is not None:
                weight["E_prev"] = E
    return applied, steps


def rprop_plus(grads, *, eta_plus, eta_minus, step_init, step_min, step_max):
    """Rprop+ (Riedmiller & Braun 1993, with weight-backtracking)."""

    def step(s, g, E):
        del E
        if s["g_prev"] * g > 0:
            s["Delta"] = min(s["Delta"] * eta_plus, step_max)
            dw = -_sign(g) * s["Delta"]
            s["g_prev"] = g
        elif s["g_prev"] * g < 0:
            s["Delta"] = max(s["Delta"] * eta_minus, step_min)
            dw = -s["dw_prev"]  # w(t+1) = w(t) - Δw(t-1)
            s["g_prev"] = 0.0  # dE/dw(t) = 0
        else:
            dw = -_sign(g) * s["Delta"]
            s["g_prev"] = g
        s["dw_prev"] = dw
        return dw

    return _run(step, grads, step_init)


def rprop_minus(grads, *, eta_plus, eta_minus, step_init, step_min, step_max):
    """Rprop- (Rprop without weight-backtracking)."""

    def step(s, g, E):
        del E
        if s["g_prev"] * g > 0:
            s["Delta"] = min(s["Delta"] * eta_plus, step_max)
        elif s["g_prev"] * g < 0:
            s["Delta"] = max(s["Delta"] * eta_minus, step_min)
        dw = -_sign(g) * s["Delta"]
        s["g_prev"] = g
        s["dw_prev"] = dw
        return dw

    return _run(step, grads, step_init)


def irprop_plus(grads, errors, *, eta_plus, eta_minus, step_init, step_min, step_max):
    """iRprop+ (backtrack only if the error rose). errors: (T,) E(t)."""

    def step(s, g, E):
        if s["g_prev"] * g > 0:
            s["Delta"] = min(s["Delta"] * eta_plus, step_max)
            dw = -_sign(g) * s["Delta"]
            s["g_prev"] = g
        elif s["g_prev"] * g < 0:
            s["Delta"] = max(s["Delta"] * eta_minus, step_min)
            if E > s["E_prev"]:
                dw = -s["dw_prev"]  # w(t+1) = w(t) - Δw(t-1)
            else:
                dw = 0.0
            s["g_prev"] = 0.0
        else:
            dw = -_sign(g) * s["Delta"]
            s["g_prev"] = g
        s["dw_prev"] = dw
        return dw

    return _run(step, grads, step_init, errors)


def irprop_minus(grads, *, eta_plus, eta_minus, step_init, step_min, step_max):
    """iRprop- (no backtracking; zero the stored slope at a sign change)."""

    def step(s, g, E):
        del E
        if s["g_prev"] * g > 0:
            s["Delta"] = min(s["Delta"] * eta_plus, step_max)
        elif s["g_prev"] * g < 0:
            s["Delta"] = max(s["Delta"] * eta_minus, step_min)
            g = 0.0  # dE/dw(t) = 0, so the weight is not moved either
        dw = -_sign(g) * s["Delta"]
        s["g_prev"] = g
        s["dw_prev"] = dw
        return dw

    return _run(step, grads, step_init)


def reference(variant: str, grads, errors=None, **hyper):
    """Dispatch by fnnet's variant name."""
    if variant == "rprop+":
        return rprop_plus(grads, **hyper)
    if variant == "rprop-":
        return rprop_minus(grads, **hyper)
    if variant == "irprop+":
        return irprop_plus(grads, errors, **hyper)
    if variant == "irprop-":
        return irprop_minus(grads, **hyper)
    raise ValueError(variant)
