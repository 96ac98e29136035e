"""Quickprop, transcribed per weight from Fahlman (1988), "An empirical study of learning speed in
back-propagation networks", section on Quickprop, in the *step-direction* form of his reference
C implementation (the form code ported from it follows).

For each weight, with S(t) = dE/dw(t) + decay * w(t), shrink = mu / (1 + mu)::

    next = 0
    if Δw(t-1) > 0:                       # last step went up
        if S(t) < 0:  next += -eps * S(t)          # slope still says "go up": gradient term
        if S(t) <= shrink * S(t-1):  next += mu * Δw(t-1)          # maximum growth
        else:                        next += S(t)/(S(t-1)-S(t)) * Δw(t-1)   # parabola minimum
    elif Δw(t-1) < 0:                     # last step went down: mirror image
        if S(t) > 0:  next += -eps * S(t)
        if S(t) >= shrink * S(t-1):  next += mu * Δw(t-1)
        else:                        next += S(t)/(S(t-1)-S(t)) * Δw(t-1)
    else:
        next = -eps * S(t)                         # no previous step: gradient descent
    Δw(t) = next;  w(t+1) = w(t) + Δw(t)

fnnet states the same rule with "S(t) has the sign of S(t-1)" in place of "-S(t) points the way
Δw(t-1) went" (Fahlman's wording in the paper); running both on the same slopes checks that the
two agree.
"""

from __future__ import annotations

import numpy as np


def quickprop_reference(grads, w0, *, eps, mu, decay=0.0):
    """Run Quickprop on a slope sequence.

    Args:
      grads: (T, n) dE/dw at steps 0..T-1 (given, independent of w, so the rule is tested alone).
      w0: (n,) initial weights (only the decay term reads w).
      eps, mu, decay: the hyper-parameters.

    Returns:
      (T, n) weight changes Δw(t).
    """
    grads = np.asarray(grads, dtype=np.float64)
    T, n = grads.shape
    out = np.zeros((T, n))
    shrink = mu / (1.0 + mu)
    for i in range(n):
        w = float(w0[i])
        S_prev = 0.0
        dw_prev = 0.0
        for t in range(T):
            S = float(grads[t, i]) + decay * w
            if dw_prev > 0:
                step = 0.0
                if S < 0:
                    step += -eps * S
                if S <= shrink * S_prev:
                    step += mu * dw_prev
                else:
                    step += S / (S_prev - S) * dw_prev
            elif dw_prev < 0:
                step = 0.0
                if S > 0:
                    step += -eps * S
                if S >= shrink * S_prev:
                    step += mu * dw_prev
                else:
                    step += S / (S_prev - S) * dw_prev
            else:
                step = -eps * S
            out[t, i] = step
            w += step
            S_prev = S
            dw_prev = step
    return out
