"""The ``fnnet`` command.

::

    fnnet train CONFIG [--set KEY=VALUE ...] [--grad manual|autodiff] [--device cpu|gpu]
    fnnet train --resume RUN_DIR [--set train.epochs=N ...]
    fnnet gradcheck CONFIG [--set ...]
    fnnet experiment NAME [--smoke] [--set ...]       runs fnnet.experiments.NAME.main(argv)
    fnnet list                                       experiments, datasets, layers, losses, optimizers
    fnnet data mnist --dir DIR                       download and verify MNIST
    fnnet plot RUN_DIR                               redraw a run's learning curves

Every command takes ``--device cpu|gpu`` and ``--debug``. A user error (bad config, data,
checkpoint, a diverging run) prints one or two lines on stderr and exits with status 2; ``--debug``
adds the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import sys
import traceback
from collections.abc import Sequence

from fnnet.cli_output import EpochBar, summary_table
from fnnet.errors import ConfigError, FnnetError, closest_name

PROG = "fnnet"
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


# ------------------------------------------------------------------------------ helpers


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _note(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def _select_device(name: str | None) -> contextlib.AbstractContextManager:
    """A context placing computations on the CPU or the first GPU; an error if there is none."""
    if name is None:
        return contextlib.nullcontext()
    import jax

    if name == "cpu":
        jax.config.update("jax_platforms", "cpu")  # before the backends start: no GPU init at all
        return jax.default_device(jax.devices("cpu")[0])
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:
        gpus = []
    if not gpus:
        found = ", ".join(sorted({d.platform for d in jax.devices()}))
        raise ConfigError(
            f"--device gpu: JAX sees no GPU (devices: {found}). Install a CUDA build of JAX "
            "(pip install -U 'jax[cuda12]') or use --device cpu."
        )
    return jax.default_device(gpus[0])


# ------------------------------------------------------------------------------ commands


def cmd_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fnnet import config as cfg
    from fnnet import runs

    overrides = list(args.set or [])
    if args.grad:
        overrides.append(f"train.grad={args.grad}")
    if args.resume is None and args.config is None:
        raise ConfigError(
            "fnnet train needs a CONFIG file (e.g. configs/digits_mlp.toml) or --resume RUN_DIR."
        )
    bar = EpochBar(0, not args.no_progress)
    with runs.compilation_cache():
        try:
            if args.resume is not None:
                saved = Path(args.resume) / runs.CONFIG_FILE
                source = args.config or (saved if saved.is_file() else None)
                bar.total = cfg.load(source, overrides).train.epochs if source else 0
                result = runs.resume(
                    args.resume,
                    overrides=overrides,
                    config_path=args.config,
                    on_epoch=bar,
                    on_event=_note,
                )
            else:
                config = cfg.load(args.config, overrides)
                bar.total = config.train.epochs
                result = runs.train(config, on_epoch=bar, on_event=_note)
        finally:
            bar.close()
    print(summary_table(result.summary), flush=True)
    return 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    import jax.numpy as jnp

    from fnnet import config as cfg
    from fnnet import gradcheck, runs

    config = cfg.load(args.config, list(args.set or []))
    prep = runs.prepare(config)
    x, t = prep.splits["train"]
    n = min(args.batch, x.shape[0])
    params = prep.init_state().params
    report = gradcheck.check(prep.model, prep.loss, params, jnp.asarray(x[:n]), jnp.asarray(t[:n]))
    print(f"gradient check of {config.source} on {n} training patterns of {config.data.name}:")
    print(report)
    return 0 if report.passed else 1


def experiment_names() -> list[str]:
    """The modules of ``fnnet.experiments`` (names starting with '_' left out)."""
    try:
        pkg = importlib.import_module("fnnet.experiments")
    except ModuleNotFoundError:
        return []
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def cmd_experiment(args: argparse.Namespace) -> int:
    names = experiment_names()
    if args.name not in names:
        close = closest_name(args.name, names)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ConfigError(
            f"unknown experiment {args.name!r}.{hint} Available: {', '.join(names) or '(none installed)'} "
            "(fnnet list shows them)."
        )
    module = importlib.import_module(f"fnnet.experiments.{args.name}")
    main = getattr(module, "main", None)
    if not callable(main):
        raise ConfigError(f"experiment {args.name!r} has no main(argv) function.")
    code = main(list(args.rest))
    return int(code or 0)


def cmd_list(args: argparse.Namespace) -> int:
    del args
    from fnnet import data, losses, optim
    from fnnet.models import layer_names

    sections = [
        ("experiments", experiment_names() or ["(none installed)"]),
        ("datasets", list(data.names())),
        ("layers", list(layer_names())),
        ("losses", list(losses.ALL)),
        ("optimizers", [*optim.NAMES, "(and any optax optimizer by name, e.g. adam)"]),
    ]
    for title, items in sections:
        print(f"{title}:")
        for item in items:
            print(f"  {item}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from fnnet import data

    if args.name != "mnist":
        if args.name in data.names():
            print(
                f"{args.name} needs no download: it is built in or generated (fnnet.data.load({args.name!r}))."
            )
            return 0
        close = closest_name(args.name, ["mnist", *data.names()])
        hint = f" Did you mean {close!r}?" if close else ""
        raise ConfigError(f"unknown dataset {args.name!r}.{hint} Only 'mnist' is downloaded.")
    folder = data.download_mnist(args.dir, force=args.force)
    print(f"MNIST is ready in {folder}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fnnet import plotting

    run = Path(args.run_dir)
    if not (run / "metrics.jsonl").is_file():
        raise ConfigError(
            f"{run} holds no metrics.jsonl; pass a run folder like runs/<name>/<timestamp>."
        )
    try:
        paths = plotting.plot_run(run)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    for p in paths:
        print(p)
    return 0


# ------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default=argparse.SUPPRESS,
        help="run on the CPU or the first GPU (default: JAX's choice)",
    )
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Neural networks as pure JAX functions, with hand-derived backpropagation.",
        parents=[common],
    )
    parser.set_defaults(device=None, debug=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def settable(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--set",
            action="append",
            metavar="KEY=VALUE",
            help="override a config value, e.g. --set train.epochs=10 (repeatable)",
        )

    p = sub.add_parser(
        "train", parents=[common], help="train a config into runs/<name>/<timestamp>/"
    )
    p.add_argument("config", nargs="?", help="a TOML config, e.g. configs/digits_mlp.toml")
    settable(p)
    p.add_argument(
        "--grad", choices=("manual", "autodiff"), help="gradient: hand-derived or jax.grad"
    )
    p.add_argument(
        "--resume", metavar="RUN_DIR", help="continue a run from its newest intact checkpoint"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "gradcheck", parents=[common], help="manual vs jax.grad vs finite differences"
    )
    p.add_argument("config")
    settable(p)
    p.add_argument("--batch", type=int, default=16, help="number of training patterns (default 16)")
    p.set_defaults(func=cmd_gradcheck)

    p = sub.add_parser("experiment", parents=[common], help="run fnnet.experiments.NAME")
    p.add_argument("name")
    p.add_argument(
        "rest", nargs=argparse.REMAINDER, help="passed to the experiment (--smoke, --set ...)"
    )
    p.set_defaults(func=cmd_experiment)

    p = sub.add_parser(
        "list", parents=[common], help="experiments, datasets, layers, losses, optimizers"
    )
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("data", parents=[common], help="download a dataset (mnist)")
    p.add_argument("name")
    p.add_argument("--dir", default="data/mnist", help="target folder (default data/mnist)")
    p.add_argument(
        "--force", action="store_true", help="download again even if the files are valid"
    )
    p.set_defaults(func=cmd_data)

    p = sub.add_parser(
        "plot", parents=[common], help="redraw a run's learning curves from metrics.jsonl"
    )
    p.add_argument("run_dir")
    p.set_defaults(func=cmd_plot)
    return parser


def _pull_common(rest: list[str], args: argparse.Namespace) -> list[str]:
    """Take --device/--debug out of an experiment's arguments (they apply to fnnet itself)."""
    out, i = [], 0
    while i < len(rest):
        a = rest[i]
        if a == "--debug":
            args.debug = True
        elif a == "--device" and i + 1 < len(rest):
            args.device = rest[i + 1]
            i += 1
        elif a.startswith("--device="):
            args.device = a.split("=", 1)[1]
        else:
            out.append(a)
        i += 1
    if args.device not in (None, "cpu", "gpu"):
        raise ConfigError(f"--device {args.device!r}: use cpu or gpu.")
    return out


def _report(e: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(e)
    lines = str(e).strip().splitlines() or [type(e).__name__]
    kind = type(e).__name__
    first = f"{PROG}: error ({kind}): {lines[0]}"
    if len(lines) > 2 and not debug:
        _err(
            first
            + "\n"
            + lines[1].strip()
            + f"  [+{len(lines) - 2} more lines: --debug shows them]"
        )
    else:
        _err("\n".join([first, *(ln for ln in lines[1:])]))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as e:  # argparse: usage error (2) or --help (0)
        return int(e.code or 0)
    debug = bool(getattr(args, "debug", False))
    try:
        if args.command == "experiment":
            args.rest = _pull_common(list(args.rest), args)
            debug = args.debug
        with _select_device(args.device):
            return args.func(args)
    except FnnetError as e:
        _report(e, debug)
        return EXIT_USER_ERROR
    except OSError as e:  # a file or folder the user named cannot be read or written
        _report(e, debug)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        _err(f"{PROG}: interrupted. A run continues with: fnnet train --resume RUN_DIR")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
