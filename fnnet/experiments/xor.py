"""XOR: a perceptron fails, a 2-2-1 sigmoid MLP learns it; which update rule gets there, how fast.

Every rule trains the same ``n_seeds`` initialisations (the same keys) full-batch on the four
patterns until E_TOTAL = 1/2 sum_p (d_p - y_p)^2 < ``criterion`` or ``max_epochs``, all seeds at
once with ``train_population`` (vmap). Rules with a learning rate run a small grid (vmapped too) and
are reported at their best value; Rprop runs with its defaults (it has no learning rate).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax
import numpy as np

from fnnet import data, losses
from fnnet import layers as L
from fnnet.experiments import _common

NAME = "xor"
ALL_RULES = _common.RULES


@dataclasses.dataclass(frozen=True)
class Config:
    n_seeds: int = 100
    max_epochs: int = 3000
    criterion: float = 0.04
    hidden: int = 2
    rules: tuple[str, ...] = ALL_RULES
    sgd_rates: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
    momentum_rates: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    alpha: float = 0.9
    quickprop_rates: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    rprop_step_max: tuple[float, ...] = (50.0, 1.0)
    perceptron_rates: tuple[float, ...] = (0.5, 2.0)
    seed: int = 0

    @classmethod
    def smoke(cls) -> Config:
        return cls(
            n_seeds=16, max_epochs=1000, rules=("sgd",), sgd_rates=(4.0,), perceptron_rates=(2.0,)
        )


def grid_for(rule: str, cfg: Config) -> tuple[float, ...]:
    rates = {"sgd": cfg.sgd_rates, "momentum": cfg.momentum_rates, "quickprop": cfg.quickprop_rates}
    return rates.get(rule, cfg.rprop_step_max)


def run(cfg: Config) -> dict:
    ds = data.xor()
    train = (ds.x_train, ds.y_train)
    keys = jax.random.split(jax.random.PRNGKey(cfg.seed), cfg.n_seeds)

    common = {"epochs": cfg.max_epochs, "target_loss": cfg.criterion, "alpha": cfg.alpha}
    perceptron = L.serial(L.Dense(1), L.Sigmoid())
    perceptron_result = _common.rule_population(
        perceptron, losses.sse, "sgd", cfg.perceptron_rates, train, keys, **common
    )
    perceptron_result["model"] = repr(perceptron)

    mlp = L.serial(L.Dense(cfg.hidden), L.Sigmoid(), L.Dense(1), L.Sigmoid())
    rules = {}
    for rule in cfg.rules:
        rules[rule] = _common.rule_population(
            mlp, losses.sse, rule, grid_for(rule, cfg), train, keys, **common
        )
        b = rules[rule]["best"]
        print(
            f"  {rule:10s} success {b['success_rate']:.2f}, median epochs {_common.fmt(b['median_epochs'])}"
            f" ({rules[rule]['seconds']:.1f} s)",
            flush=True,
        )
    mlp_best_rate = max(r["best"]["success_rate"] for r in rules.values())
    return {
        "model": repr(mlp),
        "perceptron": perceptron_result,
        "rules": rules,
        "summary": {
            "perceptron_success_rate": perceptron_result["best"]["success_rate"],
            "perceptron_min_error": min(s["final_loss_min"] for s in perceptron_result["grid"]),
            "mlp_best_success_rate": mlp_best_rate,
            "per_rule": {
                r: {
                    "success_rate": v["best"]["success_rate"],
                    "median_epochs": v["best"]["median_epochs"],
                    "hparam": _common.hparam_label(v["best"]),
                }
                for r, v in rules.items()
            },
            "claim_holds": bool(
                perceptron_result["best"]["success_rate"] == 0.0 and mlp_best_rate > 0.5
            ),
        },
    }


def plot(results: dict, out: Path) -> list[Path]:
    plt = _common.pyplot()
    rules = results["rules"]
    names = list(rules)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    bests = [results["perceptron"]["best"]] + [rules[r]["best"] for r in names]
    labels = ["percep-\ntron"] + names
    hps = [_common.hparam_label(b).replace("step_max", "Δmax") for b in bests]
    rates = [b["success_rate"] for b in bests]
    a1.bar(range(len(labels)), rates, color=["grey"] + ["C0"] * len(names))
    for i, (rate, hp) in enumerate(zip(rates, hps, strict=True)):
        a1.text(i, rate + 0.01, f"{rate:.2f}\n{hp}", ha="center", va="bottom", fontsize=6.5)
    a1.set_xticks(range(len(labels)), labels, fontsize=7.5)
    a1.set(
        ylabel="success rate",
        ylim=(0, 1.15),
        title=f"E_TOTAL < {results['config']['criterion']} within "
        f"{results['config']['max_epochs']} epochs ({results['config']['n_seeds']} seeds)",
    )
    data_ = []
    for r in names:
        e = np.asarray(rules[r]["best"]["epochs_to_target"], dtype=float)
        data_.append(e[e > 0] if (e > 0).any() else np.array([math.nan]))
    a2.boxplot(data_, showfliers=True)
    a2.set_xticks(range(1, len(names) + 1), names, fontsize=7.5)
    a2.set(
        yscale="log",
        ylabel="epochs to criterion (successful seeds)",
        title="2-2-1 sigmoid MLP: the same seeds for every rule",
    )
    return [_common.save_figure(fig, Path(out) / "xor.png")]


def table(results: dict) -> str:
    rows = []
    p = results["perceptron"]["best"]
    rows.append(
        (
            "perceptron (no hidden)",
            "sgd " + _common.hparam_label(p),
            p["success_rate"],
            p["median_epochs"],
            p["final_loss_min"],
        )
    )
    for r, v in results["rules"].items():
        for g in v["grid"]:
            mark = " *" if g == v["best"] else ""
            rows.append(
                (
                    f"2-2-1 {r}",
                    _common.hparam_label(g) + mark,
                    g["success_rate"],
                    g["median_epochs"],
                    g["final_loss_median"],
                )
            )
    s = results["summary"]
    return (
        _common.format_table(
            [
                "model / rule",
                "hyper-parameter",
                "success rate",
                "median epochs",
                "final E_TOTAL (min | median)",
            ],
            rows,
        )
        + f"\n(* = the value reported for the rule) perceptron fails and the MLP succeeds: {s['claim_holds']}"
    )


def main(argv: list[str] | None = None) -> int:
    return _common.main(NAME, Config, run, plot, table, argv, doc=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
