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
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fnnet.experiments._numbers import (
    Stopwatch,
    enable_x64,
    fmt,
    format_table,
    median_epochs,
    population_accuracy,
    summarize_population,
)
from fnnet.experiments._results import environment, jsonable, read_json, write_json
from fnnet.experiments._rules import RULES, hparam_label, rule_factory, rule_population

__all__ = [
    "DEFAULT_ROOT",
    "MAX_PNG_BYTES",
    "RULES",
    "Skip",
    "Stopwatch",
    "enable_x64",
    "environment",
    "fmt",
    "format_table",
    "hparam_label",
    "jsonable",
    "main",
    "make_config",
    "median_epochs",
    "parse_args",
    "population_accuracy",
    "pyplot",
    "read_json",
    "rule_factory",
    "rule_population",
    "save_figure",
    "summarize_population",
    "write_json",
]

DEFAULT_ROOT = Path("runs") / "experiments"
MAX_PNG_BYTES = 200_000


class Skip(Exception):
    """Raised by ``run`` when an experiment cannot run here (e.g. data files absent).

    ``main`` prints the message and exits with status 0: a missing optional dataset is not an error.
    """


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
