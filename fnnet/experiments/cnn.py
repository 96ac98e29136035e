"""A convolutional network trained with hand-derived backprop, and the same run with jax.grad.

On MNIST (when the IDX files are in ``data/mnist``) a LeNet-5-style net: conv 5x5x6 (SAME) -> tanh
-> max-pool 2 -> conv 5x5x16 -> tanh -> max-pool 2 -> 120 -> 84 -> 10. Otherwise a small CNN on the
8x8 digits: reshape to 8x8x1 -> conv 3x3x16 (SAME) -> ReLU -> max-pool 2 -> conv 3x3x32 (SAME) ->
ReLU -> max-pool 2 -> flatten -> 64 -> ReLU -> 10. Softmax cross-entropy, mini-batch momentum.

The run is repeated from the same key with ``grad="autodiff"``. The two gradients differ only by
rounding (summation order), so the trajectories agree to float32 rounding until the training
dynamics amplify those last-bit differences; repeated in float64 the two runs agree to ~1e-15 --
the shared-weight convolution and max-pool backward passes are jax.grad's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import data, losses, optim
from fnnet import layers as L
from fnnet.experiments import _common
from fnnet.experiments.nielsen_mnist import mnist_files_present
from fnnet.train import accuracy, fit

NAME = "cnn"


@dataclasses.dataclass(frozen=True)
class Config:
    dataset: str = "auto"  # "auto" (MNIST if its files are present, else digits), "digits", "mnist"
    data_dir: str = "data/mnist"
    epochs: int = 30
    mnist_epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 0.05
    alpha: float = 0.9
    float64_epochs: int = 30  # the float64 repeat (0: none)
    conv_features: tuple[int, ...] = (16, 32)  # digits CNN: one conv-ReLU-pool block per entry
    seed: int = 0

    @classmethod
    def smoke(cls) -> Config:
        return cls(epochs=2, mnist_epochs=1, float64_epochs=0, conv_features=(8,))


def digits_cnn(conv_features: tuple[int, ...] = (16, 32)):
    """Reshape to 8x8x1, then per entry conv 3x3 (SAME) -> ReLU -> max-pool 2, then 64 -> 10."""
    blocks = []
    for f in conv_features:
        blocks += [L.Conv2D(f, 3, padding="SAME"), L.ReLU(), L.MaxPool2D(2)]
    return L.serial(L.Reshape((8, 8, 1)), *blocks, L.Flatten(), L.Dense(64), L.ReLU(), L.Dense(10))


def lenet5():
    return L.serial(
        L.Reshape((28, 28, 1)),
        L.Conv2D(6, 5, padding="SAME"),
        L.Tanh(),
        L.MaxPool2D(2),
        L.Conv2D(16, 5),
        L.Tanh(),
        L.MaxPool2D(2),
        L.Flatten(),
        L.Dense(120),
        L.Tanh(),
        L.Dense(84),
        L.Tanh(),
        L.Dense(10),
    )


def choose(cfg: Config) -> tuple[str, data.Dataset, object, int]:
    use_mnist = cfg.dataset == "mnist" or (
        cfg.dataset == "auto" and mnist_files_present(cfg.data_dir)
    )
    if cfg.dataset not in ("auto", "digits", "mnist"):
        raise ValueError(f"dataset must be 'auto', 'digits' or 'mnist', got {cfg.dataset!r}")
    if use_mnist:
        return "mnist", data.mnist(cfg.data_dir, seed=cfg.seed), lenet5(), cfg.mnist_epochs
    return "digits", data.digits(seed=cfg.seed), digits_cnn(cfg.conv_features), cfg.epochs


def train(cfg, ds, model, epochs: int, grad: str, dtype=None):
    x_tr, x_va = ds.x_train, ds.x_val
    if dtype is not None:
        x_tr, x_va = x_tr.astype(dtype), x_va.astype(dtype)
    return fit(
        model,
        losses.softmax_cross_entropy,
        optim.momentum(cfg.learning_rate, cfg.alpha),
        (x_tr, ds.y_train),
        key=cfg.seed,
        epochs=epochs,
        batch_size=cfg.batch_size,
        grad=grad,
        val=(x_va, ds.y_val),
        dtype=dtype,
    )


def compare(a, b) -> dict:
    """How far two runs from the same key drifted apart: losses per epoch, final params."""
    la = np.asarray([h["train_loss"] for h in a.history], np.float64)
    lb = np.asarray([h["train_loss"] for h in b.history], np.float64)
    pa, _ = jax.flatten_util.ravel_pytree(a.state.params)
    pb, _ = jax.flatten_util.ravel_pytree(b.state.params)
    pa, pb = np.asarray(pa, np.float64), np.asarray(pb, np.float64)
    rel = np.abs(la - lb) / np.abs(lb)
    apart = np.flatnonzero(rel > 1e-4)
    return {
        "train_loss_manual": la.tolist(),
        "train_loss_autodiff": lb.tolist(),
        "max_abs_loss_diff": float(np.max(np.abs(la - lb))),
        "max_rel_loss_diff": float(np.max(np.abs(la - lb) / np.abs(lb))),
        "params_rel_diff": float(np.max(np.abs(pa - pb)) / np.max(np.abs(pb))),
        # epochs before the two losses first differ by more than 1e-4 (relative)
        "epochs_together": int(apart[0]) if apart.size else len(rel),
    }


def run(cfg: Config) -> dict:
    name, ds, model, epochs = choose(cfg)
    print(f"  {name}: {model}", flush=True)
    runs = {}
    loss = losses.softmax_cross_entropy
    x_test, y_test = jnp.asarray(ds.x_test), jnp.asarray(ds.y_test)
    test_metrics = jax.jit(
        lambda p: (loss(model.apply(p, x_test), y_test), accuracy(model.apply(p, x_test), y_test))
    )
    for grad in ("manual", "autodiff"):
        with _common.Stopwatch() as sw:
            r = train(cfg, ds, model, epochs, grad)
        test = dict(zip(("loss", "accuracy"), map(float, test_metrics(r.state.params))))
        runs[grad] = {
            "result": r,
            "test_accuracy": test["accuracy"],
            "test_loss": test["loss"],
            "val_accuracy": [h["val_accuracy"] for h in r.history],
            "seconds": sw.seconds,
            "train_seconds": r.train_seconds,
        }
        print(f"  {grad:8s}: test accuracy {test['accuracy']:.4f} ({sw.seconds:.1f} s)", flush=True)
    f32 = compare(runs["manual"]["result"], runs["autodiff"]["result"])
    f64 = None
    if cfg.float64_epochs > 0:
        with _common.enable_x64():
            m64 = train(cfg, ds, model, cfg.float64_epochs, "manual", np.float64)
            a64 = train(cfg, ds, model, cfg.float64_epochs, "autodiff", np.float64)
            f64 = compare(m64, a64)
    for r in runs.values():
        del r["result"]
    return {
        "dataset": name,
        "model": repr(model),
        "n_train": ds.n_train,
        "n_test": ds.n_test,
        "epochs": epochs,
        "runs": runs,
        "float32_trajectory": f32,
        "float64_trajectory": f64,
        "summary": {
            "dataset": name,
            "test_accuracy_manual": runs["manual"]["test_accuracy"],
            "test_accuracy_autodiff": runs["autodiff"]["test_accuracy"],
            "float32_max_rel_loss_diff": f32["max_rel_loss_diff"],
            "float32_params_rel_diff": f32["params_rel_diff"],
            "float32_epochs_together": f32["epochs_together"],
            "float64_max_rel_loss_diff": f64["max_rel_loss_diff"] if f64 else None,
            "float64_params_rel_diff": f64["params_rel_diff"] if f64 else None,
            "float64_epochs_together": f64["epochs_together"] if f64 else None,
        },
    }


def plot(results: dict, out: Path) -> list[Path]:
    plt = _common.pyplot()
    t = results["float32_trajectory"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    e = np.arange(1, len(t["train_loss_manual"]) + 1)
    a1.plot(e, t["train_loss_manual"], "o-", ms=3, label="manual backprop")
    a1.plot(e, t["train_loss_autodiff"], "x--", ms=4, label="jax.grad")
    a1.set(
        xlabel="epoch",
        ylabel="training loss",
        yscale="log",
        title=f"{results['dataset']} CNN: test acc {results['summary']['test_accuracy_manual']:.4f}",
    )
    a1.legend(fontsize=8)
    diff = np.abs(
        np.asarray(t["train_loss_manual"]) - np.asarray(t["train_loss_autodiff"])
    ) / np.asarray(t["train_loss_autodiff"])
    a2.semilogy(e, np.maximum(diff, 1e-17), "o-", ms=3, label="float32")
    if results["float64_trajectory"]:
        t64 = results["float64_trajectory"]
        d64 = np.abs(
            np.asarray(t64["train_loss_manual"]) - np.asarray(t64["train_loss_autodiff"])
        ) / np.asarray(t64["train_loss_autodiff"])
        a2.semilogy(np.arange(1, len(d64) + 1), np.maximum(d64, 1e-17), "s-", ms=3, label="float64")
    a2.set(
        xlabel="epoch",
        ylabel="|loss manual - loss autodiff| / loss",
        title="same key, both gradients",
    )
    a2.legend(fontsize=8)
    return [_common.save_figure(fig, Path(out) / "cnn.png")]


def table(results: dict) -> str:
    rows = [
        (g, r["test_accuracy"], r["test_loss"], r["train_seconds"])
        for g, r in results["runs"].items()
    ]
    text = _common.format_table(["gradient", "test accuracy", "test loss", "train s"], rows)
    s = results["summary"]
    text += (
        f"\n{results['dataset']}, {results['epochs']} epochs, manual vs autodiff from the same key:"
        f"\n  float32: losses within 1e-4 (relative) for the first {s['float32_epochs_together']} epochs; "
        f"over the whole run max rel loss diff {_common.fmt(s['float32_max_rel_loss_diff'])}, final "
        f"params rel diff {_common.fmt(s['float32_params_rel_diff'])} (rounding amplified by training)"
    )
    if s["float64_max_rel_loss_diff"] is not None:
        text += (
            f"\n  float64 ({results['config']['float64_epochs']} epochs): max rel loss diff "
            f"{_common.fmt(s['float64_max_rel_loss_diff'])}, final params rel diff "
            f"{_common.fmt(s['float64_params_rel_diff'])}"
        )
    return text


def main(argv: list[str] | None = None) -> int:
    return _common.main(
        NAME, Config, run, plot, table, argv, doc=__doc__, options=("dataset", "data_dir")
    )


if __name__ == "__main__":
    raise SystemExit(main())
