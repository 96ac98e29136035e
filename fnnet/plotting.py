"""Learning curves from a run's ``metrics.jsonl``: plots read the JSON, they never train.

``plot_run(run_dir)`` writes ``loss.png`` and (for classification) ``accuracy.png`` next to the
metrics: the training-set value after each epoch (``train_*``, else the running mean over the
epoch's mini-batches) and the validation value, against the epoch. Matplotlib runs headless
(the Agg canvas, no pyplot state), and each PNG is written to a temp file and renamed into place.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_curves", "plot_run", "read_metrics"]


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file, in order.

    A last line cut short (the writer was killed mid-line) is skipped; a damaged line elsewhere
    raises ``ValueError`` naming the line. A missing file gives ``[]``.
    """
    p = Path(path)
    if not p.is_file():
        return []
    lines = p.read_text(encoding="utf-8", errors="replace").split("\n")
    records = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")  # noqa: TRY004 (handled just below)
        except ValueError as e:
            if i == len(lines) - 1:  # torn final line of a killed writer
                break
            raise ValueError(
                f"{p}:{i + 1}: not a metrics record ({e}); the file is damaged."
            ) from None
        records.append(record)
    return records


def _series(records: Sequence[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r in records:
        v = r.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v):
            xs.append(float(r.get("epoch", len(xs) + 1)))
            ys.append(float(v))
    return xs, ys


def _save(fig: Any, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fig.savefig(tmp, format="png", dpi=100)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def plot_curves(
    records: Sequence[dict[str, Any]], out_dir: str | os.PathLike[str], *, title: str = ""
) -> list[Path]:
    """Write ``loss.png`` (and ``accuracy.png`` if any record has an accuracy) to ``out_dir``."""
    from matplotlib.figure import Figure

    out = Path(out_dir)
    written = []
    for metric, ylabel, log in (("loss", "loss", True), ("accuracy", "accuracy", False)):
        curves = []
        train_key = f"train_{metric}" if any(f"train_{metric}" in r for r in records) else metric
        for key, label in ((train_key, "train"), (f"val_{metric}", "validation")):
            xs, ys = _series(records, key)
            if xs:
                curves.append((xs, ys, label))
        if not curves:
            continue
        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
        for xs, ys, label in curves:
            ax.plot(xs, ys, label=label, marker="." if len(xs) < 40 else None)
        if log and all(y > 0 for _, ys, _ in curves for y in ys):
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title} {metric}".strip())
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out / f"{metric}.png"
        _save(fig, path)
        written.append(path)
    return written


def plot_run(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Learning curves of the run in ``run_dir`` from its ``metrics.jsonl``; returns the PNGs."""
    run = Path(run_dir)
    records = read_metrics(run / "metrics.jsonl")
    title = run.parent.name if run.parent.name else ""
    return plot_curves(records, run, title=title)
