"""One place for numerical tolerances, keyed by dtype.

Manual and autodiff gradients evaluate the same products in a different association order, so they
differ by a few ulps times the depth of the computation. float32 has eps = 1.2e-7: a relative bound
of 1e-5 leaves ~100 ulps of headroom for depth-6 stacks. float64 has eps = 2.2e-16: 1e-10 is the same
headroom scaled. Central finite differences in float64 with h ~ 1e-6 carry O(h^2) truncation and
O(eps/h) rounding error, ~1e-10 relative at best, so they referee at 1e-6.
"""

from __future__ import annotations

import numpy as np

RTOL = {np.dtype("float32"): 1e-5, np.dtype("float64"): 1e-10}
FD_RTOL = 1e-6


def rel_err(a, b) -> float:
    """max |a - b| / max(|a|, |b|, tiny): relative error scaled by the leaf's magnitude."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0), 1e-30)
    return float(np.max(np.abs(a - b), initial=0.0) / scale)


def rtol(dtype) -> float:
    return RTOL[np.dtype(dtype)]
