"""The training loop of a run (see :mod:`fnnet.runs`): ``fit`` in segments that end on multiples of
``checkpoint_every`` epochs, the metrics file appended every epoch, checkpoints, the best state
(early stopping), the last good state after a NaN/Inf, and the final summary and plots."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import fnnet
from fnnet import checkpoint
from fnnet import config as cfg
from fnnet.errors import CheckpointError, NonFiniteError
from fnnet.run_files import (
    BEST,
    CHECKPOINTS,
    LAST_GOOD,
    METRICS_FILE,
    SUMMARY_FILE,
    _clean,
    _Metrics,
    _write_json,
)
from fnnet.run_setup import Prepared

__all__ = ["EpochCallback", "RunResult"]

EpochCallback = Callable[[dict[str, float]], Any]


@dataclasses.dataclass
class RunResult:
    """run_dir; summary (as written to summary.json); state (final, or best with early
    stopping); history (one record per epoch, the run's whole history after a resume)."""

    run_dir: Path
    summary: dict[str, Any]
    state: Any
    history: list[dict[str, Any]]
    config: cfg.Config


@dataclasses.dataclass
class _Progress:
    epoch: int
    history: list[dict[str, Any]]
    stopped: str | None = None
    best_epoch: int | None = None
    best_val: float = math.inf
    best_state: Any = None
    resumed_from: list[str] = dataclasses.field(default_factory=list)


def _metadata(config: cfg.Config, p: _Progress) -> dict[str, Any]:
    return _clean(
        {
            "kind": "fnnet-run",
            "config": cfg.to_dict(config),
            "epoch": p.epoch,
            "history": p.history,
            "stopped": p.stopped,
            "best": None
            if p.best_epoch is None
            else {"epoch": p.best_epoch, "val_loss": p.best_val},
            "resumed_from": p.resumed_from,
        }
    )


def _finite(state: Any) -> bool:
    leaves = jax.tree_util.tree_leaves(state)
    return all(
        bool(np.all(np.isfinite(x)))
        for x in leaves
        if np.issubdtype(np.asarray(x).dtype, np.inexact)
    )


def _save(run: Path, config: cfg.Config, state: Any, p: _Progress) -> Path | None:
    if p.epoch == 0 and not _finite(state):
        # An untrained state may hold +inf sentinels (Rprop's E(t-1) before the first step),
        # which a checkpoint refuses; a resume without a checkpoint starts from the same state.
        return None
    return checkpoint.save(
        run / CHECKPOINTS,
        state,
        step=p.epoch,
        metadata=_metadata(config, p),
        keep=config.train.keep_checkpoints,
    )


def _evaluate(prep: Prepared, params: Any) -> dict[str, dict[str, float]]:
    from fnnet.train import evaluate

    return {
        name: evaluate(prep.model, prep.loss, params, x, t) for name, (x, t) in prep.splits.items()
    }


def _finish(
    run: Path,
    prep: Prepared,
    state: Any,
    p: _Progress,
    t0: float,
    *,
    status: str,
    message: str | None = None,
    checkpoint_path: Path | None = None,
) -> dict[str, Any]:
    config = prep.config
    final = _evaluate(prep, state.params) if state is not None else {}
    train_s = sum(float(r.get("seconds", 0.0) or 0.0) for r in p.history)
    last = p.history[-1] if p.history else {}
    summary = {
        "name": config.name,
        "run_dir": str(run),
        "status": status,
        "stopped": p.stopped or ("max_epochs" if status == "completed" else status),
        "epochs": p.epoch,
        "epochs_configured": config.train.epochs,
        "best_epoch": p.best_epoch,
        "final": final,
        "seconds": {"wall": time.perf_counter() - t0, "train": train_s},
        "examples_per_s": last.get("examples_per_s"),
        "checkpoint": str(checkpoint_path) if checkpoint_path else None,
        "resumed_from": p.resumed_from,
        "device": next(iter(jnp.zeros(()).devices())).platform,
        "fnnet_version": fnnet.__version__,
    }
    if message:
        summary["message"] = message
    _write_json(run / SUMMARY_FILE, summary)
    try:
        from fnnet import plotting

        plotting.plot_run(run)
    except Exception as e:  # noqa: BLE001 (a plot must never lose a finished run)
        summary["plot_error"] = f"{type(e).__name__}: {e}"
        _write_json(run / SUMMARY_FILE, summary)
    return summary


def _loop(
    run: Path, prep: Prepared, state: Any, p: _Progress, on_epoch: EpochCallback | None, t0: float
) -> RunResult:
    from fnnet.train import fit

    config, tc = prep.config, prep.config.train
    train_split = tuple(jnp.asarray(a) for a in prep.splits["train"])  # on the device once
    val_split = tuple(jnp.asarray(a) for a in prep.splits["val"]) if "val" in prep.splits else None
    metrics = _Metrics(run / METRICS_FILE, p.history)
    last_saved = p.epoch
    try:
        while p.epoch < tc.epochs and p.stopped is None:
            start = p.epoch
            grid_end = (start // tc.checkpoint_every + 1) * tc.checkpoint_every
            end = min(tc.epochs, start + 1 if tc.patience is not None else grid_end)

            def callback(record: dict[str, float], start: int = start) -> None:
                record = dict(record)
                record["epoch"] = start + int(record["epoch"])
                p.history.append(record)
                metrics.append(record)
                if on_epoch is not None:
                    on_epoch(record)

            try:
                res = fit(
                    prep.model,
                    prep.loss,
                    prep.optimizer,
                    train_split,
                    epochs=end - start,
                    batch_size=prep.batch_size,
                    grad=tc.grad,
                    val=val_split,
                    target_loss=tc.target_loss,
                    shuffle=tc.shuffle,
                    state=state,
                    callback=callback,
                    epochs_per_call=1,
                )
            except NonFiniteError as e:
                p.epoch = start + len(e.history or [])
                return _diverged(run, prep, e, p, t0, metrics)
            state = res.state
            p.epoch = start + res.epochs
            if res.stopped == "target_loss":
                p.stopped = "target_loss"
            if tc.patience is not None and res.epochs:
                val = p.history[-1].get("val_loss", math.inf)
                if val < p.best_val - tc.min_delta:
                    p.best_val, p.best_epoch = float(val), p.epoch
                    p.best_state = state
                    checkpoint.save(
                        run / BEST, state, step=p.epoch, metadata=_metadata(config, p), keep=1
                    )
                elif p.epoch - (p.best_epoch or 0) >= tc.patience:
                    p.stopped = "early_stopping"
            if p.epoch % tc.checkpoint_every == 0 or p.stopped or p.epoch >= tc.epochs:
                _save(run, config, state, p)
                last_saved = p.epoch
        if last_saved != p.epoch or not checkpoint.list_checkpoints(run / CHECKPOINTS):
            _save(run, config, state, p)
    finally:
        metrics.close()
    final_state = (
        p.best_state if p.stopped == "early_stopping" and p.best_state is not None else state
    )
    latest = checkpoint.list_checkpoints(run / CHECKPOINTS)
    path = latest[0] if latest else None
    summary = _finish(run, prep, final_state, p, t0, status="completed", checkpoint_path=path)
    return RunResult(run, summary, final_state, p.history, config)


def _diverged(
    run: Path, prep: Prepared, e: NonFiniteError, p: _Progress, t0: float, metrics: _Metrics
) -> RunResult:
    """Save the last good (finite) state apart from the epoch checkpoints, write the summary,
    and raise a NonFiniteError that says where everything is."""
    metrics.close()
    p.stopped = "non_finite"
    saved: Path | None = None
    note = ""
    if e.state is not None:
        try:
            saved = checkpoint.save(
                run / LAST_GOOD,
                e.state,
                step=int(e.state.step),
                metadata={**_metadata(prep.config, p), "reason": str(e)},
                keep=1,
            )
        except CheckpointError as err:
            note = f" The state at the failing step is itself non-finite and was not saved ({err})."
    latest = checkpoint.list_checkpoints(run / CHECKPOINTS)
    where = f"last good state saved to {saved}" if saved else "no finite state at the failing step"
    message = (
        f"{e}\nRun folder {run}: {where}; epoch checkpoints in {run / CHECKPOINTS} "
        f"(newest: {latest[0].name if latest else 'none'}).{note}"
    )
    _finish(run, prep, None, p, t0, status="diverged", message=str(e), checkpoint_path=saved)
    raise NonFiniteError(message, state=e.state, history=p.history)
