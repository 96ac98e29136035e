"""Gradient checking: hand-derived backprop vs jax.grad vs float64 central finite differences.

For every parameter leaf the report gives

- manual vs autodiff, in the params' own dtype: max |g_m - g_a| and the leaf-relative error
  max |g_m - g_a| / max(|g_a|), checked against ``tolerance(dtype)``;
- manual (recomputed in float64) vs central differences in float64,
  (E(w + h e_k) - E(w - h e_k)) / 2h on up to ``max_fd_elements`` entries per leaf, checked
  against ``FD_TOLERANCE``.

Finite differences are the referee: two implementations of the same wrong formula can agree with
each other, but not with the definition of the derivative. (They are unreliable exactly at kinks:
ReLU at 0, ties in max-pooling. Checks on random inputs hit these with probability ~0.)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from fnnet import backprop
from fnnet.layers.base import Layer
from fnnet.losses import Loss
from fnnet.typing import Array, Params

#: Leaf-relative tolerance of manual vs autodiff, by dtype. Both evaluate the same products in a
#: different association order, so they differ by rounding: ~100 ulps (float32: eps 1.2e-7) for
#: float32, and a deliberately tight 1e-10 (~5e5 ulps of eps 2.2e-16, room for deep stacks) for float64.
TOLERANCES = {
    np.dtype("float16"): 1e-2,
    np.dtype(jnp.bfloat16): 5e-2,
    np.dtype("float32"): 1e-5,
    np.dtype("float64"): 1e-10,
}

#: Central differences with h = eps^(1/3) * max(1, |w|) carry O(h^2) truncation and O(eps / h)
#: rounding error: ~1e-10 relative in float64, so 1e-6 is a safe referee bound.
FD_TOLERANCE = 1e-6


def tolerance(dtype: Any) -> float:
    """The manual-vs-autodiff tolerance for ``dtype`` (see ``TOLERANCES``)."""
    return TOLERANCES[np.dtype(dtype)]


def _x64():
    ctx = getattr(jax, "enable_x64", None)
    if ctx is None:  # older JAX
        from jax.experimental import enable_x64 as ctx  # type: ignore[no-redef]
    return ctx(True)


@dataclasses.dataclass(frozen=True)
class LeafCheck:
    """One parameter leaf's comparison."""

    path: str
    layer: str
    shape: tuple[int, ...]
    dtype: str
    max_abs_err: float
    max_rel_err: float
    fd_rel_err: float
    fd_checked: int
    tol: float
    fd_tol: float
    manual_vs_f64: float = 0.0
    autodiff_vs_f64: float = 0.0

    @property
    def passed(self) -> bool:
        """Finite differences agree, and manual agrees with autodiff -- or, in a low precision
        where a leaf sums terms of both signs (a bias), manual is at least as close to the float64
        gradient as autodiff is: then their disagreement is autodiff's rounding as much as ours."""
        as_accurate = self.manual_vs_f64 <= 2 * self.autodiff_vs_f64 + self.tol / 10
        return (self.max_rel_err <= self.tol or as_accurate) and self.fd_rel_err <= self.fd_tol


@dataclasses.dataclass(frozen=True)
class GradCheckReport:
    """Per-leaf results; ``str(report)`` is a table, ``report.passed`` is the verdict."""

    leaves: tuple[LeafCheck, ...]
    loss_manual: float
    loss_autodiff: float

    @property
    def passed(self) -> bool:
        return all(leaf.passed for leaf in self.leaves)

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "loss_manual": self.loss_manual,
            "loss_autodiff": self.loss_autodiff,
            "leaves": [dict(dataclasses.asdict(leaf), passed=leaf.passed) for leaf in self.leaves],
        }

    def __str__(self) -> str:
        header = ("leaf", "layer", "shape", "dtype", "max|m-a|", "rel(m,a)", "tol", "rel(m,fd64)", "#fd", "ok")
        rows = [
            (
                leaf.path,
                leaf.layer,
                "x".join(map(str, leaf.shape)) or "()",
                leaf.dtype,
                f"{leaf.max_abs_err:.2e}",
                f"{leaf.max_rel_err:.2e}",
                f"{leaf.tol:.0e}",
                f"{leaf.fd_rel_err:.2e}",
                str(leaf.fd_checked),
                "PASS" if leaf.passed else "FAIL",
            )
            for leaf in self.leaves
        ]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths))  # noqa: E731
        lines = [fmt(header), fmt(tuple("-" * w for w in widths)), *map(fmt, rows)]
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(f"loss: manual {self.loss_manual:.8g}, autodiff {self.loss_autodiff:.8g} -> {verdict}")
        return "\n".join(lines)


def _leaf_rel(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    diff = np.max(np.abs(a - b), initial=0.0)
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    return float(diff), float(diff / scale) if scale > 0 else (math.inf if diff > 0 else 0.0)


def _to64(tree: Any) -> Any:
    return jax.tree_util.tree_map(
        lambda a: jnp.asarray(a, jnp.float64) if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating) else jnp.asarray(a),
        tree,
    )


def finite_differences(
    model: Layer, loss: Loss, params: Params, x: Any, t: Array, *, max_fd_elements: int = 32, seed: int = 0
) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], float]:
    """Central differences in float64 for up to ``max_fd_elements`` entries of every leaf.

    Returns (per leaf, in ``tree_leaves`` order: flat indices checked, fd estimate, manual
    float64 gradient there, the whole leaf's manual float64 gradient) and the noise floor of the estimate, ~ eps |E| / h: below that
    magnitude a finite difference carries no information.
    """
    rng = np.random.default_rng(seed)
    with _x64():
        p64, x64, t64 = _to64(params), _to64(x), _to64(t)
        E, manual = backprop.value_and_grad(model, loss)(p64, x64, t64)
        flat, unravel = jax.flatten_util.ravel_pytree(p64)
        sizes = [leaf.size for leaf in jax.tree_util.tree_leaves(p64)]
        offsets = np.cumsum([0, *sizes])
        per_leaf = [
            np.arange(n) if n <= max_fd_elements else np.sort(rng.choice(n, max_fd_elements, replace=False))
            for n in sizes
        ]
        idx = np.concatenate([o + i for o, i in zip(offsets, per_leaf)]).astype(np.int64) if per_leaf else np.zeros(0, np.int64)
        h = np.cbrt(np.finfo(np.float64).eps) * np.maximum(1.0, np.abs(np.asarray(flat)[idx]))

        def central(args):
            k, hk = args
            e = lambda s: loss(model.apply(unravel(flat.at[k].add(s * hk)), x64), t64)  # noqa: E731
            return (e(1.0) - e(-1.0)) / (2 * hk)

        fd = np.asarray(jax.jit(lambda a: jax.lax.map(central, a))((jnp.asarray(idx), jnp.asarray(h))))
        manual_flat = np.asarray(jax.flatten_util.ravel_pytree(manual)[0])
        out, start = [], 0
        for o, i, n in zip(offsets, per_leaf, sizes):
            out.append((i, fd[start : start + len(i)], manual_flat[o + i], manual_flat[o : o + n]))
            start += len(i)
        noise = float(np.finfo(np.float64).eps * max(abs(float(E)), 1e-300) / (h.min() if h.size else 1.0))
        return out, noise


def check(
    model: Layer,
    loss: Loss,
    params: Params,
    x: Any,
    t: Array,
    *,
    max_fd_elements: int = 32,
    tol: float | None = None,
    fd_tol: float = FD_TOLERANCE,
    seed: int = 0,
) -> GradCheckReport:
    """Compare manual, jax.grad and float64 finite-difference gradients, leaf by leaf.

    ``params``/``x`` keep their dtype for the manual-vs-autodiff comparison; the
    finite-difference referee always runs in float64 (enabled locally if needed).
    """
    E_m, g_m = jax.jit(backprop.value_and_grad(model, loss))(params, x, t)
    E_a, g_a = jax.jit(backprop.autodiff_value_and_grad(model, loss))(params, x, t)
    fds, noise = finite_differences(model, loss, params, x, t, max_fd_elements=max_fd_elements, seed=seed)
    key_paths = [p for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
    paths = [jax.tree_util.keystr(p) for p in key_paths]
    rows = []
    for path, m, a, (idx, fd, m64, leaf64) in zip(paths, jax.tree_util.tree_leaves(g_m), jax.tree_util.tree_leaves(g_a), fds):
        m, a = np.asarray(m, np.float64), np.asarray(a, np.float64)
        abs_err, rel_err = _leaf_rel(m, a)
        # An error at the noise floor (~1e2 eps |E| / h) says nothing; discount it.
        fd_diff = max(np.max(np.abs(fd - m64), initial=0.0) - 100 * noise, 0.0)
        fd_scale = max(np.max(np.abs(m), initial=0.0), np.max(np.abs(fd), initial=0.0))
        fd_rel = float(fd_diff / fd_scale) if fd_scale > 0 else (0.0 if fd_diff == 0 else math.inf)
        dtype = np.dtype(jax.tree_util.tree_leaves(params)[len(rows)].dtype)
        truth = leaf64.reshape(m.shape)
        rows.append(
            LeafCheck(
                path=path,
                layer=model.describe(key_paths[len(rows)]),
                shape=tuple(m.shape),
                dtype=str(dtype),
                max_abs_err=abs_err,
                max_rel_err=rel_err,
                fd_rel_err=fd_rel,
                fd_checked=len(idx),
                tol=tol if tol is not None else tolerance(dtype),
                fd_tol=fd_tol,
                manual_vs_f64=_leaf_rel(m, truth)[1],
                autodiff_vs_f64=_leaf_rel(a, truth)[1],
            )
        )
    return GradCheckReport(tuple(rows), float(E_m), float(E_a))
