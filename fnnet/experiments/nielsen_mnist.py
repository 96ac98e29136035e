"""Nielsen's chapter-1 network: 784-30-10 sigmoid, quadratic cost, SGD eta = 3.0, mini-batch 10, 30 epochs.

Everything as in ``network.py`` (Nielsen, *Neural Networks and Deep Learning*, ch. 1): weights and
biases ~ N(0, 1) (``initializers.nielsen()``), C = 1/(2n) sum_x ||y(x) - a||^2 per mini-batch (so
the step is eta/m times the summed per-pattern gradients, his ``update_mini_batch``), 50,000
training images (the last 10,000 of the training file held out, his split), and the test accuracy
after every epoch printed his way: ``Epoch 0: 9129 / 10000``. He reports a peak of about 95%.

Needs the four MNIST IDX files in ``data/mnist`` (or ``--data-dir``); without them it exits 0 and
says how to get them (``fnnet data mnist --dir data/mnist``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from fnnet import data, initializers, losses, optim
from fnnet import layers as L
from fnnet.data.mnist import find_files
from fnnet.errors import DataError
from fnnet.experiments import _common
from fnnet.train import fit

NAME = "nielsen_mnist"


@dataclasses.dataclass(frozen=True)
class Config:
    data_dir: str = "data/mnist"
    hidden: int = 30
    learning_rate: float = 3.0
    batch_size: int = 10
    epochs: int = 30
    val_size: int = 10_000
    seed: int = 0

    @classmethod
    def smoke(cls) -> Config:
        return cls(epochs=2)


def mnist_files_present(data_dir: str) -> bool:
    """True when ``data_dir`` holds the four MNIST IDX files (raw or .gz)."""
    try:
        find_files(data_dir)
    except DataError:
        return False
    return True


def skip_message(data_dir: str) -> str:
    return (
        f"MNIST IDX files not found in {data_dir!r}. Get them with `fnnet data mnist --dir {data_dir}` "
        f"(needs network access), or copy train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        f"t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz into that folder; then rerun "
        f"(or pass --data-dir DIR)."
    )


def load(cfg: Config) -> data.Dataset:
    """MNIST with Nielsen's split (the last ``val_size`` training images held out); Skip if absent."""
    if not mnist_files_present(cfg.data_dir):
        raise _common.Skip(skip_message(cfg.data_dir))
    return data.mnist(cfg.data_dir, val_size=cfg.val_size, seed=None)


def build_model(cfg: Config, n_out: int = 10):
    init = initializers.nielsen()
    return L.serial(
        L.Dense(cfg.hidden, init, init), L.Sigmoid(), L.Dense(n_out, init, init), L.Sigmoid()
    )


def run(cfg: Config) -> dict:
    ds = load(cfg)
    model = build_model(cfg, ds.num_classes)
    # Nielsen's quadratic cost; marked as a classification loss so fit reports accuracy (arg-max).
    loss = dataclasses.replace(losses.quadratic, classification=True)
    t_train = ds.one_hot(ds.y_train)
    t_test = ds.one_hot(ds.y_test)
    n_test = ds.n_test
    lines: list[str] = []

    def report(record: dict) -> None:
        correct = round(record["val_accuracy"] * n_test)
        line = f"Epoch {int(record['epoch']) - 1}: {correct} / {n_test}"
        lines.append(line)
        print(line, flush=True)

    with _common.Stopwatch() as sw:
        result = fit(
            model,
            loss,
            optim.sgd(cfg.learning_rate),
            (ds.x_train, t_train),
            key=cfg.seed,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            val=(ds.x_test, t_test),
            callback=report,
        )
    correct = [round(h["val_accuracy"] * n_test) for h in result.history]
    return {
        "model": repr(model),
        "n_train": ds.n_train,
        "n_test": n_test,
        "epoch_lines": lines,
        "test_correct": correct,
        "train_loss": [h["train_loss"] for h in result.history],
        "compile_seconds": result.compile_seconds,
        "train_seconds": result.train_seconds,
        "summary": {
            "best_test_accuracy": max(correct) / n_test,
            "final_test_accuracy": correct[-1] / n_test,
            "best_epoch": int(np.argmax(correct)),
            "seconds": sw.seconds,
        },
    }


def plot(results: dict, out: Path) -> list[Path]:
    plt = _common.pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
    acc = np.asarray(results["test_correct"]) / results["n_test"]
    ax.plot(np.arange(len(acc)), 100 * acc, "o-", ms=3)
    ax.axhline(95, color="k", ls="--", lw=0.8, label="Nielsen: ~95% peak")
    ax.set(
        xlabel="epoch",
        ylabel="test accuracy (%)",
        title="784-30-10 sigmoid, quadratic cost, SGD eta=3, m=10",
    )
    ax.legend(fontsize=8)
    return [_common.save_figure(fig, Path(out) / "nielsen_mnist.png")]


def table(results: dict) -> str:
    s = results["summary"]
    return (
        f"{results['model']} on {results['n_train']} MNIST training images: test accuracy best "
        f"{s['best_test_accuracy']:.2%} (epoch {s['best_epoch']}), final {s['final_test_accuracy']:.2%}, "
        f"{s['seconds']:.0f} s (per-epoch lines above and in results.json)"
    )


def main(argv: list[str] | None = None) -> int:
    return _common.main(
        NAME, Config, run, plot, table, argv, doc=__doc__, options=("data_dir", "val_size")
    )


if __name__ == "__main__":
    raise SystemExit(main())
