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
also means one compile per run; JAX's persistent cache, see :func:`enable_compilation_cache`,
lets the next run and a resumed one skip even that.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import fnnet
from fnnet import checkpoint
from fnnet import config as cfg
from fnnet.errors import CheckpointError, ConfigError, NonFiniteError, ShapeError
from fnnet.layers.base import Layer
from fnnet.losses import Loss
from fnnet.models import build_model

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

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
CHECKPOINTS = "checkpoints"
BEST = "best"
LAST_GOOD = "last_good"

EpochCallback = Callable[[dict[str, float]], Any]
EventCallback = Callable[[str], Any]


# ------------------------------------------------------------------------------ XLA cache


def enable_compilation_cache(path: str | os.PathLike[str] | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache, so runs (and resumed runs) skip recompiling.

    The folder is ``path``, else ``$FNNET_COMPILATION_CACHE``, else JAX's own
    ``jax_compilation_cache_dir`` if set, else ``$XDG_CACHE_HOME/fnnet/xla`` (``~/.cache``).
    ``FNNET_COMPILATION_CACHE=off`` turns it off. Returns the folder in use, or None.
    """
    env = os.environ.get("FNNET_COMPILATION_CACHE", "")
    if path is None and env.lower() in ("0", "off", "false", "no", "none"):
        return None
    current = jax.config.jax_compilation_cache_dir
    if path is None and not env and current:
        return Path(current)
    if path is None:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = env or Path(base) / "fnnet" / "xla"
    folder = Path(path).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a cache is an optimisation: without a writable folder, compile as usual
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


_CACHE_OPTIONS = (
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes",
)


@contextlib.contextmanager
def compilation_cache(path: str | os.PathLike[str] | None = None) -> Iterator[Path | None]:
    """:func:`enable_compilation_cache` for the duration of a ``with`` block; JAX's settings
    (and its cache state) are restored afterwards, so a library caller is left as it was."""
    before = {k: getattr(jax.config, k) for k in _CACHE_OPTIONS}
    folder = enable_compilation_cache(path)
    try:
        yield folder
    finally:
        if any(getattr(jax.config, k) != v for k, v in before.items()):
            from jax.experimental.compilation_cache import compilation_cache as jax_cc

            for k, v in before.items():
                jax.config.update(k, v)
            jax_cc.reset_cache()


# ------------------------------------------------------------------------------ building a run


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Everything a config builds: dataset arrays, model, loss, optimizer, batch size.

    ``loss`` is the configured loss; when it compares outputs to one-hot rows (sse, quadratic,
    ...) and the dataset is labelled with class ids, the targets are one-hot and the loss is
    marked as a classification loss so that accuracy is reported.
    """

    config: cfg.Config
    dataset: Any
    model: Layer
    loss: Loss
    optimizer: Any
    input_shape: tuple[int, ...]
    batch_size: int
    splits: dict[str, tuple[np.ndarray, np.ndarray]]

    def init_state(self):
        from fnnet.train import init_state

        key = jax.random.PRNGKey(self.config.seed)
        return init_state(self.model, self.optimizer, key, (-1, *self.input_shape))


def prepare(config: cfg.Config) -> Prepared:
    """Load the data, build and shape-check the model, the loss and the optimizer.

    Raises:
      DataError: the dataset cannot be loaded or holds invalid values.
      ShapeError: the model does not fit the data (input width, output units vs classes).
      ConfigError: the batch size does not fit the training set.
    """
    from fnnet import losses

    src = config.source or "the config"
    ds = config.data.load()
    input_shape = tuple(int(d) for d in ds.input_shape)
    if config.model.input_shape is not None and tuple(config.model.input_shape) != input_shape:
        raise ShapeError(
            f"{src}: model.input_shape = {list(config.model.input_shape)} but dataset "
            f"{config.data.name!r} has examples of shape {list(input_shape)}; remove "
            "model.input_shape (it is taken from the data) or fix it."
        )
    model = build_model(config.model.layers)
    shapes: dict[str, Any] = {}

    def init(key: Any) -> Any:  # shapes only: eval_shape computes nothing
        shapes["out"], params = model.init(key, (-1, *input_shape))
        return params

    try:
        jax.eval_shape(init, jax.random.PRNGKey(0))
    except ValueError as e:  # ShapeError and the layers' own ValueErrors
        raise ShapeError(
            f"{src}: the model does not fit dataset {config.data.name!r} (examples of shape "
            f"{list(input_shape)}): {e}"
        ) from None
    out_shape = tuple(shapes["out"])
    want = ds.output_dim
    if len(out_shape) != 2 or out_shape[-1] != want:
        what = f"{want} classes" if ds.task == "classification" else f"targets of width {want}"
        raise ShapeError(
            f"{src}: the model's output has shape {list(out_shape[1:])} per example, but dataset "
            f"{config.data.name!r} has {what}; end the model with a Dense layer of out_dim = {want}."
        )
    loss = losses.get(config.loss.name)
    one_hot = ds.task == "classification" and not loss.classification
    if one_hot:  # sse / quadratic / ... compare outputs with one-hot rows; accuracy is the argmax
        loss = dataclasses.replace(loss, classification=True)
    n_train = int(ds.x_train.shape[0])
    batch_size = config.train.batch_size_for(n_train)
    if config.train.patience is not None and ds.x_val.shape[0] == 0:
        raise ConfigError(
            f"{src}: train.patience: early stopping needs a validation split, but dataset "
            f"{config.data.name!r} has none; remove train.patience."
        )
    splits = {}
    for name in ("train", "val", "test"):
        x, y = getattr(ds, f"x_{name}"), getattr(ds, f"y_{name}")
        if x.shape[0]:
            splits[name] = (x, ds.one_hot(y) if one_hot else y)
    return Prepared(
        config, ds, model, loss, config.optimizer.build(), input_shape, batch_size, splits
    )


# ------------------------------------------------------------------------------ files


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/Inf become null (strict JSON), NumPy scalars Python numbers."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_json(path: Path, data: Any) -> None:
    _atomic_write(path, json.dumps(_clean(data), indent=2, allow_nan=False) + "\n")


def new_run_dir(
    output_dir: str | os.PathLike[str], name: str, now: datetime.datetime | None = None
) -> Path:
    """Create ``output_dir/name/YYYYmmdd-HHMMSS`` (``-2``, ``-3``, ... if taken) and return it."""
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    parent = Path(output_dir).expanduser() / name
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"cannot create the output folder {parent}: {e.strerror or e}; set output_dir "
            "to a writable folder (--set output_dir=...)."
        ) from None
    for k in range(1, 10_000):
        run = parent / (stamp if k == 1 else f"{stamp}-{k}")
        try:
            run.mkdir()
            return run
        except FileExistsError:
            continue
    raise ConfigError(f"cannot find a free run folder name under {parent}.")


class _Metrics:
    """metrics.jsonl: one line per epoch, flushed at once (a killed run keeps what it wrote)."""

    def __init__(self, path: Path, history: list[dict[str, Any]]):
        _atomic_write(path, "".join(json.dumps(_clean(r), allow_nan=False) + "\n" for r in history))
        self._f = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def append(self, record: dict[str, Any]) -> None:
        self._f.write(json.dumps(_clean(record), allow_nan=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


# ------------------------------------------------------------------------------ the loop


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
