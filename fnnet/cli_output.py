"""Terminal output of ``fnnet train``: the per-epoch progress bar and the end-of-run summary table.

:class:`EpochBar` is a tqdm bar over epochs on stderr (loss, accuracy and examples/s in its postfix),
called once per epoch record and silent when disabled; :func:`summary_table` formats a run's
summary (run folder, epochs and stop reason, time, final loss and accuracy per split) for stdout;
:func:`_fmt` renders one number (or ``-``) for both. Nothing here parses arguments or runs a model.
"""

from __future__ import annotations

import sys
from typing import Any


def _fmt(v: Any, pct: bool = False) -> str:
    if not isinstance(v, (int, float)):
        return "-"
    return f"{100 * v:.2f}%" if pct else f"{v:.4g}"


def summary_table(summary: dict[str, Any]) -> str:
    """The end-of-run table: final loss and accuracy per split, epochs, stop reason, time."""
    lines = [
        f"run      {summary.get('run_dir')}",
        (
            f"epochs   {summary.get('epochs')} of {summary.get('epochs_configured')} "
            f"(stopped: {summary.get('stopped')})"
        ),
    ]
    if summary.get("best_epoch") is not None:
        lines.append(
            f"best     epoch {summary['best_epoch']} (validation loss; its state is reported)"
        )
    secs = summary.get("seconds", {})
    lines.append(
        f"time     {secs.get('wall', 0.0):.1f} s wall, {secs.get('train', 0.0):.1f} s training"
    )
    final = summary.get("final") or {}
    if final:
        lines.append("")
        lines.append(f"{'split':<8} {'loss':>10} {'accuracy':>9}")
        for split in ("train", "val", "test"):
            if split in final:
                m = final[split]
                lines.append(
                    f"{split:<8} {_fmt(m.get('loss')):>10} {_fmt(m.get('accuracy'), True):>9}"
                )
    return "\n".join(lines)


class EpochBar:
    """A tqdm bar over epochs: loss, accuracy and examples/s in the postfix."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        self.total = total
        self.enabled = enabled

    def start(self, initial: int) -> None:
        if self.enabled and self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                initial=initial,
                unit="epoch",
                file=sys.stderr,
                dynamic_ncols=True,
                leave=True,
            )

    def __call__(self, record: dict[str, float]) -> None:
        if not self.enabled:
            return
        self.start(int(record["epoch"]) - 1)
        post = {"loss": _fmt(record.get("train_loss", record.get("loss")))}
        acc = record.get("train_accuracy", record.get("accuracy"))
        if acc is not None:
            post["acc"] = _fmt(acc, True)
        if "val_accuracy" in record:
            post["val_acc"] = _fmt(record["val_accuracy"], True)
        if isinstance(record.get("examples_per_s"), float):
            post["ex/s"] = f"{record['examples_per_s']:.3g}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
