"""Rprop "works for full batch learning only": Hinton's example, then mini-batch Rprop on digits.

1. Hinton's example (Coursera, *Neural Networks for Machine Learning*; the notes' slide): one
   weight whose ten mini-batch slopes in every epoch are nine times +0.1 and once -0.9. They sum to
   zero, so the weight should stay where it is. ``fnnet.optim.rprop`` is driven directly with
   these slopes: on mini-batches (one update per slope) every variant walks far, because it sees
   only signs (nine steps one way, one step back); full-batch Rprop sees the summed slope, 0, and
   stays; mini-batch SGD moves -eta*0.1 nine times and +eta*0.9 once, and comes back.
2. Digits (64-32-10 sigmoid, softmax cross-entropy): Rprop with mini-batches vs full-batch Rprop vs
   mini-batch momentum for the same number of epochs, a few seeds each (vmapped).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet import data, losses, optim
from fnnet import layers as L
from fnnet.experiments import _common
from fnnet.train import train_population

NAME = "rprop_minibatch"


@dataclasses.dataclass(frozen=True)
class Config:
    # Hinton's example
    small_slope: float = 0.1
    n_small: int = 9
    big_slope: float = -0.9
    hinton_epochs: int = 50
    sgd_learning_rate: float = 0.1
    # digits
    digits_hidden: int = 32
    epochs: int = 100
    n_seeds: int = 3
    rprop_variant: str = "irprop-"
    batch_sizes: tuple[int, ...] = (32, 128)
    momentum_learning_rate: float = 0.1
    momentum_batch_size: int = 32  # 0: no momentum reference run
    alpha: float = 0.9
    seed: int = 0

    @classmethod
    def smoke(cls) -> Config:
        return cls(
            hinton_epochs=20, epochs=10, n_seeds=1, batch_sizes=(128,), momentum_batch_size=0
        )


# ------------------------------------------------------------------------ Hinton's example


def epoch_slopes(cfg: Config) -> np.ndarray:
    """The ten mini-batch slopes of one epoch: ``n_small`` x small_slope, then big_slope."""
    return np.array([cfg.small_slope] * cfg.n_small + [cfg.big_slope], dtype=np.float32)


def full_batch_slope(cfg: Config) -> float:
    """The epoch's summed slope, 0 for the notes' numbers (rounded so float error cannot leave a
    spurious sign for Rprop to act on)."""
    return round(math.fsum([cfg.small_slope] * cfg.n_small + [cfg.big_slope]), 12)


def drive(optimizer, slopes) -> jax.Array:
    """w after each update of ``optimizer`` fed ``slopes`` (a 1-D array) in turn, from w = 0.

    Each slope g is that of a linear error E(w) = g w, whose value is passed as ``value=`` (only
    iRprop+ reads it).
    """
    optimizer = optax.with_extra_args_support(optimizer)
    w0 = jnp.zeros((), jnp.float32)

    def step(carry, g):
        w, state = carry
        updates, state = optimizer.update(g, state, w, value=g * w)
        w = w + updates
        return (w, state), w

    return jax.lax.scan(step, (w0, optimizer.init(w0)), slopes)[1]


def hinton(cfg: Config) -> dict:
    per_epoch = epoch_slopes(cfg)
    mini = jnp.asarray(np.tile(per_epoch, cfg.hinton_epochs))
    full = jnp.full((cfg.hinton_epochs,), full_batch_slope(cfg), jnp.float32)
    rules = {}
    for variant in optim.RPROP_VARIANTS:
        rules[f"{variant} mini-batch"] = (optim.rprop(variant), mini)
        rules[f"{variant} full-batch"] = (optim.rprop(variant), full)
    rules["sgd mini-batch"] = (optim.sgd(cfg.sgd_learning_rate), mini)
    # every trajectory in one compiled program
    trajectories = jax.jit(
        lambda m, f: {k: drive(o, m if s is mini else f) for k, (o, s) in rules.items()}
    )(mini, full)
    runs = {}
    for label in rules:  # jit returns the dict with sorted keys; keep the rules' order
        w = trajectories[label]
        w = np.asarray(w, dtype=np.float64)
        every = len(per_epoch) if "mini" in label else 1
        runs[label] = {
            "updates_per_epoch": every,
            "final_w": float(w[-1]),
            "max_abs_w": float(np.max(np.abs(w))),
            "w_end_of_epoch": w[every - 1 :: every].tolist(),
        }
    return {
        "slopes_per_epoch": per_epoch.tolist(),
        "full_batch_slope": full_batch_slope(cfg),
        "epochs": cfg.hinton_epochs,
        "runs": runs,
    }


# ------------------------------------------------------------------------ digits


def digits_runs(cfg: Config) -> dict:
    ds = data.digits(seed=cfg.seed)
    model = L.serial(L.Dense(cfg.digits_hidden), L.Sigmoid(), L.Dense(ds.num_classes))
    keys = jax.random.split(jax.random.PRNGKey(cfg.seed), cfg.n_seeds)
    settings = [
        (f"{cfg.rprop_variant} full-batch", lambda: optim.rprop(cfg.rprop_variant), ds.n_train)
    ]
    settings += [
        (f"{cfg.rprop_variant} mini-batch {b}", lambda: optim.rprop(cfg.rprop_variant), b)
        for b in cfg.batch_sizes
    ]
    if cfg.momentum_batch_size:
        settings.append(
            (
                f"momentum mini-batch {cfg.momentum_batch_size}",
                lambda: optim.momentum(cfg.momentum_learning_rate, cfg.alpha),
                cfg.momentum_batch_size,
            )
        )
    out = {}
    for label, make_opt, batch_size in settings:
        with _common.Stopwatch() as sw:
            pop = train_population(
                model,
                losses.softmax_cross_entropy,
                make_opt,
                (ds.x_train, ds.y_train),
                keys=keys,
                epochs=cfg.epochs,
                batch_size=batch_size,
            )
            test_acc = _common.population_accuracy(model, pop.states.params, ds.x_test, ds.y_test)
        train_loss = np.asarray(pop.history["train_loss"], dtype=np.float64)
        out[label] = {
            "batch_size": batch_size,
            "updates_per_epoch": ds.n_train // batch_size,
            "train_loss": train_loss.tolist(),
            "final_train_loss": train_loss[:, -1].tolist(),
            "final_train_loss_median": float(np.median(train_loss[:, -1])),
            "min_train_loss_median": float(np.median(train_loss.min(axis=1))),
            "train_accuracy_final": np.asarray(pop.history["train_accuracy"])[:, -1].tolist(),
            "test_accuracy": test_acc.tolist(),
            "test_accuracy_median": float(np.median(test_acc)),
            "seconds": sw.seconds,
        }
        print(
            f"  digits {label:28s} final train loss {out[label]['final_train_loss_median']:.4f}, "
            f"test acc {out[label]['test_accuracy_median']:.3f} ({sw.seconds:.1f} s)",
            flush=True,
        )
    return {"model": repr(model), "runs": out}


def run(cfg: Config) -> dict:
    h = hinton(cfg)
    d = digits_runs(cfg)
    runs = h["runs"]
    mini_drift = {v: runs[f"{v} mini-batch"]["max_abs_w"] for v in optim.RPROP_VARIANTS}
    full = f"{cfg.rprop_variant} full-batch"
    minis = [k for k in d["runs"] if "mini-batch" in k and k.startswith(cfg.rprop_variant)]
    return {
        "hinton": h,
        "digits": d,
        "summary": {
            "hinton_max_abs_w_minibatch_rprop": mini_drift,
            "hinton_max_abs_w_fullbatch_rprop": max(
                runs[f"{v} full-batch"]["max_abs_w"] for v in optim.RPROP_VARIANTS
            ),
            "hinton_max_abs_w_minibatch_sgd": runs["sgd mini-batch"]["max_abs_w"],
            "hinton_final_w_sgd": runs["sgd mini-batch"]["final_w"],
            "digits_final_train_loss": {
                k: v["final_train_loss_median"] for k, v in d["runs"].items()
            },
            "digits_test_accuracy": {k: v["test_accuracy_median"] for k, v in d["runs"].items()},
            "minibatch_rprop_worse_than_fullbatch": bool(
                all(
                    d["runs"][k]["final_train_loss_median"]
                    > d["runs"][full]["final_train_loss_median"]
                    for k in minis
                )
            ),
        },
    }


def plot(results: dict, out: Path) -> list[Path]:
    plt = _common.pyplot()
    h = results["hinton"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    colors = {v: f"C{i}" for i, v in enumerate(optim.RPROP_VARIANTS)} | {"sgd": "k"}
    for label, r in h["runs"].items():
        w = r["w_end_of_epoch"]
        rule = label.split()[0]
        style = "-" if "mini" in label else (0, (4, 3 + 2 * list(colors).index(rule)))
        a1.plot(np.arange(1, len(w) + 1), w, ls=style, lw=1.2, label=label, color=colors.get(rule))
    a1.set(
        xlabel="epoch (10 mini-batches: 9 x +0.1, 1 x -0.9)",
        ylabel="w at the end of the epoch",
        yscale="symlog",
        title="Hinton's example: one weight, slopes summing to 0",
    )
    a1.legend(fontsize=6, ncol=2)
    for label, r in results["digits"]["runs"].items():
        loss = np.asarray(r["train_loss"])
        epochs = np.arange(1, loss.shape[1] + 1)
        a2.plot(
            epochs,
            np.median(loss, axis=0),
            lw=1.3,
            label=f"{label} ({r['test_accuracy_median']:.3f} test)",
        )
    a2.set(
        xlabel="epoch",
        ylabel="training loss (median over seeds)",
        yscale="log",
        title="digits 64-32-10: mini-batch vs full-batch Rprop",
    )
    a2.legend(fontsize=6)
    return [_common.save_figure(fig, Path(out) / "rprop_minibatch.png")]


def table(results: dict) -> str:
    h = results["hinton"]["runs"]
    t1 = _common.format_table(
        ["Hinton's example", "updates/epoch", "final w", "max |w|"],
        [(k, v["updates_per_epoch"], v["final_w"], v["max_abs_w"]) for k, v in h.items()],
    )
    d = results["digits"]["runs"]
    t2 = _common.format_table(
        ["digits", "updates/epoch", "final train loss", "min train loss", "test accuracy"],
        [
            (
                k,
                v["updates_per_epoch"],
                v["final_train_loss_median"],
                v["min_train_loss_median"],
                v["test_accuracy_median"],
            )
            for k, v in d.items()
        ],
    )
    s = results["summary"]
    return (
        f"{t1}\n\n{t2}\n(medians over {len(next(iter(d.values()))['test_accuracy'])} seeds)\n"
        f"mini-batch Rprop ends with a higher training loss than full-batch Rprop: "
        f"{s['minibatch_rprop_worse_than_fullbatch']}"
    )


def main(argv: list[str] | None = None) -> int:
    return _common.main(NAME, Config, run, plot, table, argv, doc=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
