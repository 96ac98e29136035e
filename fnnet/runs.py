"""Runs: a config trained into a run folder, checkpointed, resumable bit for bit.

Each run writes ``<output_dir>/<name>/<YYYYmmdd-HHMMSS>[-k]/``::

    config.toml      the resolved config (every default filled in); --resume reads it
    metrics.jsonl    one JSON record per epoch, appended and flushed as training goes
    summary.json     final train/val/test loss and accuracy, epochs, stop reason, times
    loss.png, accuracy.png          learning curves drawn from metrics.jsonl
    checkpoints/ckpt_<epoch>.npz    the TrainState every ``checkpoint_every`` epochs and at the
                                    end (and at epoch 0 unless the untrained state holds an inf
                                    sentinel, as Rprop's E(t-1) does); metadata = config +
                                    history + epoch
    best/            (early stopping) the state with the best validation loss
    last_good/       (after a NaN/Inf) the last finite state, for inspection

Training runs ``fnnet.train.fit`` in segments that end on multiples of ``checkpoint_every``
epochs, passing the state from one segment to the next, one epoch per compiled call. The
TrainState carries everything an epoch changes (params, optimizer state, the shuffling key, the
step count), and every epoch of every segment is the same compiled program, so a resumed run
replays exactly the computation the uninterrupted run would have done: k epochs, a stop (or a
kill), and a resume give the same bits as one uninterrupted run, whatever k is. (One program
also means one compile per run; JAX's persistent cache, see
:func:`fnnet.compilation_cache.enable_compilation_cache`, lets the next run and a resumed one skip
even that.)

This module holds the entry points, :func:`train` and :func:`resume`; a run is built from its
config in :mod:`fnnet.run_setup`, trained by the loop in :mod:`fnnet.run_loop`, and its file
names and folder helpers live in :mod:`fnnet.run_files`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fnnet import checkpoint
from fnnet import config as cfg
from fnnet.compilation_cache import compilation_cache, enable_compilation_cache
from fnnet.errors import CheckpointError, ConfigError
from fnnet.run_files import (
    BEST,
    CHECKPOINTS,
    CONFIG_FILE,
    SUMMARY_FILE,
    _atomic_write,
    _write_json,
    new_run_dir,
)
from fnnet.run_loop import EpochCallback, RunResult, _loop, _Progress, _save
from fnnet.run_setup import Prepared, prepare

__all__ = [
    "Prepared",
    "RunResult",
    "compilation_cache",
    "enable_compilation_cache",
    "new_run_dir",
    "prepare",
    "resume",
    "train",
]

EventCallback = Callable[[str], Any]


# ------------------------------------------------------------------------------ entry points


def train(
    config: cfg.Config,
    *,
    on_epoch: EpochCallback | None = None,
    on_event: EventCallback | None = None,
    run_dir: str | os.PathLike[str] | None = None,
) -> RunResult:
    """Train ``config`` in a new run folder (or ``run_dir``, which must be new or empty).

    ``on_epoch(record)`` is called after every epoch, ``on_event(message)`` with progress notes
    (the run folder, checkpoints skipped on resume).

    Raises:
      ConfigError, DataError, ShapeError: before anything is written.
      NonFiniteError: training diverged; the run folder holds the last good state (see module doc).
    """
    t0 = time.perf_counter()
    prep = prepare(config)
    state = prep.init_state()
    if run_dir is None:
        run = new_run_dir(config.output_dir, config.name)
    else:
        run = Path(run_dir)
        run.mkdir(parents=True, exist_ok=True)
        if any(run.iterdir()):
            raise ConfigError(f"run folder {run} is not empty; use --resume to continue it.")
    if on_event:
        on_event(f"run folder: {run}")
    _atomic_write(run / CONFIG_FILE, cfg.to_toml(config))
    p = _Progress(epoch=0, history=[])
    _write_json(run / SUMMARY_FILE, {"name": config.name, "run_dir": str(run), "status": "running"})
    _save(run, config, state, p)
    return _loop(run, prep, state, p, on_epoch, t0)


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{k}" if path else k
            out += _differences(a.get(k), b.get(k), sub) if k in a and k in b else [sub]
        return out
    return [] if a == b else [path]


def resume(
    run_dir: str | os.PathLike[str],
    *,
    overrides: Iterable[str] = (),
    config_path: str | os.PathLike[str] | None = None,
    on_epoch: EpochCallback | None = None,
    on_event: EventCallback | None = None,
) -> RunResult:
    """Continue the run in ``run_dir`` from its newest intact checkpoint to its configured epochs.

    The config is the run's own ``config.toml`` (with ``overrides``, e.g. ``train.epochs=60`` to
    train longer). ``config_path``, if given, must describe the same run (only ``train.epochs``
    may differ). ``metrics.jsonl`` is rewritten to the checkpoint's history and appended to.

    Raises:
      ConfigError: ``run_dir`` is not a run folder, or ``config_path`` describes another run.
      CheckpointError: no checkpoint is intact, or they belong to another model.
    """
    t0 = time.perf_counter()
    run = Path(run_dir)
    if not (run / CONFIG_FILE).is_file():
        raise ConfigError(
            f"--resume {run}: not a run folder (no {CONFIG_FILE} in it); pass a folder "
            "like runs/<name>/<timestamp>."
        )
    config = cfg.load(run / CONFIG_FILE, overrides)
    if config_path is not None:
        given = cfg.load(config_path, overrides)
        diff = [
            d
            for d in _differences(cfg.to_dict(config), cfg.to_dict(given))
            if d not in ("train.epochs", "name")
        ]
        if diff:
            raise ConfigError(
                f"{config_path} differs from the config of run {run} at {', '.join(diff[:5])}; "
                "drop the CONFIG argument to resume with the run's own config, or start a new run."
            )
        config = dataclasses.replace(
            config, train=dataclasses.replace(config.train, epochs=given.train.epochs)
        )
    prep = prepare(config)
    template = prep.init_state()
    p = _Progress(epoch=0, history=[])
    state = template
    if checkpoint.list_checkpoints(run / CHECKPOINTS):
        notes: list[str] = []

        def skipped(path: Path, reason: str) -> None:
            notes.append(f"skipping damaged checkpoint {path.name}: {reason}")

        # if none is intact, the error lists every file tried; else say which were passed over
        path, state, meta = checkpoint.load_latest(run / CHECKPOINTS, template, on_skip=skipped)
        for note in notes:
            if on_event:
                on_event(note)
        if not isinstance(meta, dict) or meta.get("kind") != "fnnet-run":
            raise CheckpointError(
                f"{path} was not written by an fnnet run (no run metadata); "
                "resume needs the run's own checkpoints."
            )
        try:
            p.epoch = int(meta["epoch"])
            p.history = [r for r in meta["history"] if int(r["epoch"]) <= p.epoch]
            p.stopped = meta.get("stopped")
            best = meta.get("best")
            if best:
                val = best["val_loss"]
                p.best_epoch, p.best_val = (
                    int(best["epoch"]),
                    math.inf if val is None else float(val),
                )
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(
                f"{path}: its run metadata is malformed ({type(e).__name__}: {e}); resume from "
                "an older checkpoint (move this one away) or start a new run."
            ) from None
        if best:
            best_file = run / BEST / f"ckpt_{p.best_epoch:09d}.npz"
            if best_file.is_file():  # else the summary reports the final state instead
                p.best_state, _ = checkpoint.load(best_file, template)
        p.resumed_from = [*meta.get("resumed_from", []), str(path)]
        if on_event:
            on_event(f"resuming {run} from {path.name} (epoch {p.epoch} of {config.train.epochs})")
    elif on_event:
        on_event(f"no checkpoint in {run / CHECKPOINTS}: starting {run} from epoch 0")
    for stray in run.glob(".*.tmp"):  # left by a process killed while writing
        stray.unlink(missing_ok=True)
    _atomic_write(run / CONFIG_FILE, cfg.to_toml(config))
    if (p.stopped is not None or p.epoch >= config.train.epochs) and on_event:
        on_event(
            f"nothing to train: the run stopped at epoch {p.epoch} ({p.stopped or 'max_epochs'})."
        )
    return _loop(run, prep, state, p, on_epoch, t0)
