"""The skeleton every experiment shares: config -> data -> model -> fit -> results JSON -> plots -> table.

An experiment module defines

- ``Config``: a frozen dataclass of every parameter, with ``Config.smoke()`` returning the
  reduced-size variant (the test suite runs that one);
- ``run(cfg) -> dict``: trains and measures, returns JSON-ready results (no files, no plots);
- ``plot(results, out_dir) -> list[Path]``: draws PNGs from the results *as read back from the JSON*
  (plots never train);
- ``table(results) -> str``: the result table printed at the end;
- ``main(argv=None) -> int``: ``return _common.main(NAME, Config, run, plot, table, argv)``.

The command line is the same everywhere: ``--smoke`` (reduced size), ``--out DIR`` (default
``runs/experiments/<name>/``), ``--seed N``, ``--replot`` (redraw the plots and table from
``OUT/results.json`` without training), plus any option the module lists in ``options`` (a Config
field, e.g. ``data_dir`` -> ``--data-dir``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

DEFAULT_ROOT = Path("runs") / "experiments"
MAX_PNG_BYTES = 200_000


class Skip(Exception):
    """Raised by ``run`` when an experiment cannot run here (e.g. data files absent).

    ``main`` prints the message and exits with status 0: a missing optional dataset is not an error.
    """


# ------------------------------------------------------------------------------------ results


def jsonable(obj: Any) -> Any:
    """``obj`` with NumPy / JAX scalars and arrays turned into Python numbers and lists.

    Non-finite floats become the strings ``"inf"``, ``"-inf"``, ``"nan"`` (strict JSON has none).
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (str, bool)) or obj is None:
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else str(f)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):  # numpy or jax array
        return jsonable(np.asarray(obj).tolist())
    raise TypeError(f"cannot store {type(obj).__name__} in the results JSON: {obj!r}")


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(jsonable(obj), indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)
    return path


_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _restore(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _restore(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_restore(v) for v in obj]
    if isinstance(obj, str) and obj in _NON_FINITE:
        return _NON_FINITE[obj]
    return obj


def read_json(path: Path) -> dict:
    """The results written by :func:`write_json`, with ``"inf"``/``"-inf"``/``"nan"`` as floats."""
    return _restore(json.loads(Path(path).read_text()))


def environment() -> dict[str, Any]:
    """Where the numbers were measured: versions, backend, device, CPU count, date."""
    import jax

    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


# ------------------------------------------------------------------------------------ numbers


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


# ------------------------------------------------------------------------------------ rules

RULES: tuple[str, ...] = ("sgd", "momentum", "rprop+", "rprop-", "irprop+", "irprop-", "quickprop")


def rule_factory(rule: str, alpha: float = 0.9) -> tuple[Callable[..., Any], str]:
    """(make_optimizer, name of its tuned hyper-parameter) for one of :data:`RULES`.

    sgd / momentum (with ``alpha``) / quickprop: ``make_optimizer(learning_rate=...)``. The Rprop
    variants have no learning rate; their grid, if any, is over ``step_max`` (Δ_max), all other
    parameters at their defaults.
    """
    from fnnet import optim

    if rule == "sgd":
        return (lambda learning_rate: optim.sgd(learning_rate)), "learning_rate"
    if rule == "momentum":
        return (lambda learning_rate: optim.momentum(learning_rate, alpha)), "learning_rate"
    if rule == "quickprop":
        return (lambda learning_rate: optim.quickprop(learning_rate)), "learning_rate"
    if rule in optim.RPROP_VARIANTS:
        return (
            lambda step_max=None: (
                optim.rprop(rule) if step_max is None else optim.rprop(rule, step_max=step_max)
            )
        ), "step_max"
    raise ValueError(f"unknown rule {rule!r}; choose from {RULES}")


def rule_population(
    model: Any,
    loss: Any,
    rule: str,
    grid: Sequence[float],
    train: tuple[Any, Any],
    keys: Any,
    *,
    epochs: int,
    target_loss: float,
    alpha: float = 0.9,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Train ``len(keys)`` seeds x each value in ``grid`` of the rule's hyper-parameter (see
    :func:`rule_factory`; an empty grid = the rule's defaults, Rprop only) with
    ``train_population`` -- one compiled program -- until ``target_loss``.

    Returns ``{"hparam": name, "grid": [summary per value], "best": the summary with the smallest
    median epochs (failures inf; ties by success rate), "seconds": wall time}``. Every grid point
    trains the same keys, so rules and values are compared on the same initialisations.
    """
    import jax.numpy as jnp

    from fnnet.train import train_population

    make_opt, hp_name = rule_factory(rule, alpha)
    values = list(grid) or [None]
    if values == [None] and hp_name == "learning_rate":
        raise ValueError(f"{rule} needs a learning-rate grid")
    k = keys.shape[0]
    hparams = (
        None if values == [None] else {hp_name: jnp.repeat(jnp.asarray(values, jnp.float32), k)}
    )
    with Stopwatch() as sw:
        pop = train_population(
            model,
            loss,
            make_opt,
            train,
            keys=jnp.tile(keys, (len(values), 1)),
            hparams=hparams,
            epochs=epochs,
            target_loss=target_loss,
            batch_size=batch_size,
        )
    final = np.asarray(pop.history["train_loss"])[:, -1]
    summaries = []
    for i, value in enumerate(values):
        sl = slice(i * k, (i + 1) * k)
        s = summarize_population(pop.epochs_to_target[sl], epochs)
        s.update(
            hparam=hp_name if value is not None else None,
            value=value,
            final_loss_median=float(np.median(final[sl])),
            final_loss_min=float(final[sl].min()),
        )
        summaries.append(s)
    chosen = min(
        summaries,
        key=lambda s: (s["median_epochs"], -s["success_rate"], s["median_epochs_successful"]),
    )
    return {"hparam": hp_name, "grid": summaries, "best": chosen, "seconds": sw.seconds}


def hparam_label(summary: dict) -> str:
    """'lr=4', 'step_max=1' or 'defaults' for a population summary."""
    if summary.get("value") is None:
        return "defaults"
    short = {"learning_rate": "lr"}.get(summary["hparam"], summary["hparam"])
    return f"{short}={fmt(summary['value'])}"


# ------------------------------------------------------------------------------------ plots


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Save ``fig`` as a PNG under :data:`MAX_PNG_BYTES`, lowering the resolution if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
        if path.stat().st_size <= MAX_PNG_BYTES or dpi <= 40:
            break
        dpi = int(dpi * 0.8)
    pyplot().close(fig)
    return path


# ------------------------------------------------------------------------------------ main


def parse_args(
    name: str,
    doc: str | None,
    argv: Sequence[str] | None,
    options: Sequence[str],
    config_cls: type | None = None,
):
    parser = argparse.ArgumentParser(
        prog=f"fnnet experiment {name}",
        description=(doc or "").strip().splitlines()[0] if doc else None,
    )
    parser.add_argument("--smoke", action="store_true", help="the reduced-size variant (seconds)")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_ROOT / name,
        help=f"results folder (default {DEFAULT_ROOT / name})",
    )
    parser.add_argument("--seed", type=int, default=None, help="base seed (default: the config's)")
    parser.add_argument(
        "--replot",
        action="store_true",
        help="redraw plots and table from OUT/results.json; no training",
    )
    defaults = config_cls() if config_cls is not None else None
    for option in options:
        kind = type(getattr(defaults, option)) if defaults is not None else str
        parser.add_argument(
            "--" + option.replace("_", "-"),
            dest=option,
            default=None,
            type=kind,
            help=f"Config.{option} (default {getattr(defaults, option, None)!r})",
        )
    return parser.parse_args(list(argv) if argv is not None else None)


def make_config(config_cls: type, args: argparse.Namespace, options: Sequence[str]) -> Any:
    cfg = config_cls.smoke() if args.smoke else config_cls()
    changes = {o: getattr(args, o) for o in options if getattr(args, o) is not None}
    if args.seed is not None:
        changes["seed"] = args.seed
    return dataclasses.replace(cfg, **changes) if changes else cfg


def main(
    name: str,
    config_cls: type,
    run: Callable[[Any], dict],
    plot: Callable[[dict, Path], list[Path]],
    table: Callable[[dict], str],
    argv: Sequence[str] | None = None,
    *,
    doc: str | None = None,
    options: Sequence[str] = (),
) -> int:
    """The whole skeleton: parse -> config -> run -> results.json -> plots (from the JSON) -> table."""
    args = parse_args(name, doc, argv, options, config_cls)
    cfg = make_config(config_cls, args, options)
    out = Path(args.out)
    if args.replot:
        loaded = read_json(out / "results.json")
        figures = plot(loaded, out)
        print(table(loaded))
        print(f"[{name}] redrew " + ", ".join(map(str, figures)), flush=True)
        return 0
    print(f"[{name}] {'smoke' if args.smoke else 'full'} run, results -> {out}", flush=True)
    try:
        with Stopwatch() as sw:
            results = run(cfg)
    except Skip as skip:
        print(f"[{name}] skipped: {skip}", flush=True)
        return 0
    record = {
        "experiment": name,
        "smoke": bool(args.smoke),
        "argv": list(argv if argv is not None else sys.argv[1:]),
        "config": dataclasses.asdict(cfg),
        "environment": environment(),
        "seconds": sw.seconds,
        **results,
    }
    path = write_json(out / "results.json", record)
    loaded = read_json(path)  # plots and table read what was written, never the live objects
    figures = plot(loaded, out)
    print(table(loaded))
    print(
        f"[{name}] {sw.seconds:.1f} s; wrote {path}" + "".join(f", {p}" for p in figures),
        flush=True,
    )
    return 0
