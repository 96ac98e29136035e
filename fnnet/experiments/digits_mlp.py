"""An MLP on scikit-learn's 8x8 digits: >= 95% test accuracy in under a minute on a CPU.

64-64-10 tanh MLP, softmax cross-entropy, mini-batch momentum (the notes' rule), manual backprop.
Several seeds train at once (one vmapped program); the wall time covers data, compile and training.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from fnnet import data, losses, optim
from fnnet import layers as L
from fnnet.experiments import _common
from fnnet.train import train_population

NAME = "digits_mlp"
ACTIVATIONS = {"tanh": L.Tanh, "sigmoid": L.Sigmoid, "relu": L.ReLU}


@dataclasses.dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...] = (64,)
    activation: str = "tanh"
    learning_rate: float = 0.05
    alpha: float = 0.9
    batch_size: int = 32
    epochs: int = 30
    n_seeds: int = 5
    seed: int = 0
    target_accuracy: float = 0.95
    time_budget_s: float = 60.0

    @classmethod
    def smoke(cls) -> Config:
        return cls(epochs=8, n_seeds=2)


def build_model(cfg: Config, n_out: int = 10):
    layers = []
    for h in cfg.hidden:
        layers += [L.Dense(h), ACTIVATIONS[cfg.activation]()]
    return L.serial(*layers, L.Dense(n_out))


def run(cfg: Config) -> dict:
    with _common.Stopwatch() as total:
        ds = data.digits(seed=cfg.seed)
        model = build_model(cfg, ds.num_classes)
        keys = jax.random.split(jax.random.PRNGKey(cfg.seed), cfg.n_seeds)
        pop = train_population(
            model,
            losses.softmax_cross_entropy,
            lambda: optim.momentum(cfg.learning_rate, cfg.alpha),
            (ds.x_train, ds.y_train),
            keys=keys,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            val=(ds.x_val, ds.y_val),
        )
        test_acc = _common.population_accuracy(model, pop.states.params, ds.x_test, ds.y_test)
    h = pop.history
    return {
        "model": repr(model),
        "n_train": ds.n_train,
        "n_val": ds.n_val,
        "n_test": ds.n_test,
        "test_accuracy": test_acc.tolist(),
        "history": {
            "train_loss": h["train_loss"].tolist(),
            "train_accuracy": h["train_accuracy"].tolist(),
            "val_accuracy": h["val_accuracy"].tolist(),
        },
        "summary": {
            "test_accuracy_mean": float(test_acc.mean()),
            "test_accuracy_min": float(test_acc.min()),
            "test_accuracy_max": float(test_acc.max()),
            "wall_seconds": total.seconds,
            "n_seeds": cfg.n_seeds,
            "claim_holds": bool(
                test_acc.min() >= cfg.target_accuracy and total.seconds < cfg.time_budget_s
            ),
        },
    }


def plot(results: dict, out: Path) -> list[Path]:
    plt = _common.pyplot()
    h = results["history"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    for k, (loss, acc) in enumerate(zip(h["train_loss"], h["val_accuracy"])):
        epochs = np.arange(1, len(loss) + 1)
        a1.plot(epochs, loss, lw=1, label=f"seed {k}")
        a2.plot(epochs, acc, lw=1)
    a1.set(xlabel="epoch", ylabel="training loss (softmax CE)", yscale="log", title="training loss")
    a2.axhline(results["config"]["target_accuracy"], color="k", ls="--", lw=0.8, label="95%")
    a2.set(
        xlabel="epoch", ylabel="validation accuracy", ylim=(0.8, 1.0), title="validation accuracy"
    )
    a1.legend(fontsize=7)
    a2.legend(fontsize=7)
    s = results["summary"]
    fig.suptitle(
        f"{results['model']}: test accuracy {s['test_accuracy_mean']:.3f} "
        f"(min {s['test_accuracy_min']:.3f}), {s['wall_seconds']:.1f} s for {s['n_seeds']} seeds",
        fontsize=9,
    )
    return [_common.save_figure(fig, Path(out) / "digits_mlp.png")]


def table(results: dict) -> str:
    rows = [(k, acc) for k, acc in enumerate(results["test_accuracy"])]
    s = results["summary"]
    text = _common.format_table(["seed", "test accuracy"], rows)
    return (
        f"{text}\nmean {s['test_accuracy_mean']:.4f}, min {s['test_accuracy_min']:.4f}; wall "
        f"{s['wall_seconds']:.1f} s (data + compile + train); claim >= 95% in < 60 s holds: "
        f"{s['claim_holds']}"
    )


def main(argv: list[str] | None = None) -> int:
    return _common.main(NAME, Config, run, plot, table, argv, doc=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
