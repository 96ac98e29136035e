"""Numbers and tables of the experiments: epochs-to-target statistics, cell formatting, timing.

:func:`median_epochs` and :func:`summarize_population` summarise how fast a population of seeds
reached its target (a failure counts as +inf); :func:`fmt` and :func:`format_table` lay results out
as aligned plain text; :class:`Stopwatch` times a block; :func:`enable_x64` switches float64 on
inside a block; :func:`population_accuracy` scores every member of a vmapped population at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import Any, Self

import numpy as np


def median_epochs(epochs_to_target: Sequence[int] | np.ndarray) -> float:
    """Median epochs to target over *all* members, a failure (-1) counting as +inf.

    So the median is finite only when more than half the members reached the target.
    """
    e = np.asarray(epochs_to_target, dtype=np.float64)
    e = np.where(e < 0, np.inf, e)
    return float(np.median(e)) if e.size else math.inf


def summarize_population(epochs_to_target: np.ndarray, max_epochs: int) -> dict[str, Any]:
    """Success rate, median (failures = inf) and quartiles of epochs to target for one rule."""
    e = np.asarray(epochs_to_target)
    ok = e[e >= 0]
    censored = np.where(e < 0, np.inf, e.astype(np.float64))
    with np.errstate(invalid="ignore"):
        q25, q75 = (
            float(np.percentile(censored, q, method="lower")) if e.size else math.inf
            for q in (25, 75)
        )
    return {
        "success_rate": float(np.mean(e >= 0)) if e.size else 0.0,
        "median_epochs": median_epochs(e),
        "median_epochs_successful": float(np.median(ok)) if ok.size else math.inf,
        "q25_epochs": q25,
        "q75_epochs": q75,
        "max_epochs": max_epochs,
        "epochs_to_target": e.tolist(),
    }


def fmt(v: Any, digits: int = 3) -> str:
    """A compact cell: ints as ints, floats to ``digits`` significant figures, inf as 'inf'."""
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return v
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    f = float(v)
    if not math.isfinite(f):
        return str(f)
    if f == int(f) and abs(f) < 1e6:
        return str(int(f))
    return f"{f:.{digits}g}"


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table with aligned columns (cells formatted by :func:`fmt`)."""
    cells = [[str(h) for h in headers]] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *map(line, cells[1:])])


class Stopwatch:
    """``with Stopwatch() as sw: ...``; ``sw.seconds`` afterwards."""

    def __enter__(self) -> Self:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0


def enable_x64():
    """Context manager turning float64 on inside it (``jax.enable_x64`` or its older home)."""
    import jax

    ctx = getattr(jax, "enable_x64", None)
    if ctx is None:  # older JAX
        from jax.experimental import enable_x64 as ctx  # type: ignore[no-redef]
    return ctx(True)


def population_accuracy(model: Any, params: Any, x: Any, y: Any) -> np.ndarray:
    """Accuracy of every member of a population (params with a leading member axis) on (x, y)."""
    import jax
    import jax.numpy as jnp

    x, y = jnp.asarray(x), jnp.asarray(y)

    def acc(p):
        return jnp.mean((jnp.argmax(model.apply(p, x), axis=-1) == y).astype(jnp.float32))

    return np.asarray(jax.jit(jax.vmap(acc))(params), dtype=np.float64)
