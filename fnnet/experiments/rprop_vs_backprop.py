"""Is Rprop "typically faster by an order of magnitude than plain BPROP"? Full-batch epochs to a target.

Two problems, each trained full-batch from the same seeds by every rule until the training error
falls below a target:

- the 8-3-8 encoder (``data.encoder(8)``), sigmoid hidden and output units, E_TOTAL (sse) < 0.1;
- the 8x8 digits, 64-32-10 with sigmoid hidden units, mean softmax cross-entropy < 0.05.

Backprop (sgd), momentum and Quickprop run a learning-rate grid (one vmapped program per rule) and
are reported at their best rate -- the most favourable comparison for them; the four Rprop variants
run with their default parameters (Δ₀ = 0.1, η⁺ = 1.2, η⁻ = 0.5, Δ_max = 50) and with Δ_max = 1, which
turns out to matter on these small sigmoid nets. Levenberg-Marquardt (``optim.levenberg_marquardt``, vmapped over
the same initialisations) joins on the encoder, where its n x n system is small. The reported ratio
is median epochs of the best plain-backprop (or momentum) rate / median epochs of Rprop, medians
over all seeds with a failure counted as never (inf).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import data, losses, optim
from fnnet import layers as L
from fnnet.experiments import _common

NAME = "rprop_vs_backprop"
RPROPS = ("rprop+", "rprop-", "irprop+", "irprop-")


@dataclasses.dataclass(frozen=True)
class Config:
    problems: tuple[str, ...] = ("encoder", "digits")
    rules: tuple[str, ...] = _common.RULES
    alpha: float = 0.9
    rprop_step_max: tuple[float, ...] = (50.0, 1.0)
    # 8-3-8 encoder
    encoder_seeds: int = 50
    encoder_criterion: float = 0.1
    encoder_max_epochs: int = 5000
    encoder_sgd_rates: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    encoder_momentum_rates: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4)
    encoder_quickprop_rates: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    encoder_lm: bool = True
    encoder_lm_max_iter: int = 500
    # digits
    digits_seeds: int = 8
    digits_hidden: int = 32
    digits_criterion: float = 0.05
    digits_max_epochs: int = 1000
    digits_sgd_rates: tuple[float, ...] = (4.0, 8.0, 12.0, 16.0)
    digits_momentum_rates: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    digits_quickprop_rates: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    seed: int = 0

    @classmethod
    def smoke(cls) -> Config:
        return cls(
            problems=("encoder",),
            rules=("sgd", "irprop-"),
            rprop_step_max=(1.0,),
            encoder_seeds=8,
            encoder_max_epochs=2000,
            encoder_sgd_rates=(4.0,),
            encoder_lm=False,
        )


def grid(cfg: Config, problem: str, rule: str) -> tuple[float, ...]:
    """The learning rates of sgd / momentum / quickprop, the Δ_max values of Rprop."""
    if rule in RPROPS:
        return cfg.rprop_step_max
    return getattr(cfg, f"{problem}_{rule}_rates")


def setup(cfg: Config, problem: str):
    """(model, loss, (x, t), criterion, max_epochs, n_seeds) for a problem."""
    if problem == "encoder":
        ds = data.encoder(8)
        model = L.serial(L.Dense(ds.metadata["hidden"]), L.Sigmoid(), L.Dense(8), L.Sigmoid())
        return (
            model,
            losses.sse,
            (ds.x_train, ds.y_train),
            cfg.encoder_criterion,
            cfg.encoder_max_epochs,
            cfg.encoder_seeds,
        )
    if problem == "digits":
        ds = data.digits(seed=cfg.seed)
        model = L.serial(L.Dense(cfg.digits_hidden), L.Sigmoid(), L.Dense(ds.num_classes))
        return (
            model,
            losses.softmax_cross_entropy,
            (ds.x_train, ds.y_train),
            cfg.digits_criterion,
            cfg.digits_max_epochs,
            cfg.digits_seeds,
        )
    raise ValueError(f"unknown problem {problem!r}; choose 'encoder' or 'digits'")


def levenberg_marquardt(model, train, keys, criterion: float, max_iter: int) -> dict:
    """LM from the same initialisations; E_TOTAL = 1/2 sum r^2, so LM's goal (on sum r^2) is 2x."""
    x, t = jnp.asarray(train[0]), jnp.asarray(train[1])

    def residuals(params):
        return model.apply(params, x) - t

    def one(key):
        _, params = model.init(jax.random.split(key)[0], (-1, x.shape[1]))  # as init_state splits
        res = optim.levenberg_marquardt(residuals, params, max_iter=max_iter, goal=2 * criterion)
        return res.iterations, res.sse

    with _common.Stopwatch() as sw:
        iterations, sse = jax.jit(jax.vmap(one))(keys)
    iterations, E = np.asarray(iterations), 0.5 * np.asarray(sse)
    epochs = np.where(E <= criterion, iterations, -1)
    s = _common.summarize_population(epochs, max_iter)
    s.update(
        hparam=None,
        value=None,
        final_loss_median=float(np.median(E)),
        final_loss_min=float(E.min()),
    )
    return {"hparam": None, "grid": [s], "best": s, "seconds": sw.seconds}


def ratio(slow: dict, fast: dict, key: str = "median_epochs") -> float:
    """slow[key] / fast[key]: how many times fewer epochs ``fast`` needs (0 if it mostly fails)."""
    return slow[key] / fast[key] if math.isfinite(fast[key]) else 0.0


def ratios(rules: dict) -> dict[str, dict[str, float]]:
    """For every rule: median epochs of tuned sgd (momentum) / the rule's median epochs."""
    out: dict[str, dict[str, float]] = {}
    for r, v in rules.items():
        for base in ("sgd", "momentum"):
            if base in rules and r != base:
                b = rules[base]["best"]
                out.setdefault(r, {})[f"vs_{base}"] = ratio(b, v["best"])
                out[r][f"vs_{base}_successful"] = ratio(b, v["best"], "median_epochs_successful")
    return out


def default_rprop(v: dict) -> dict:
    """The summary of an Rprop population at Δ_max = 50 (its default), else its best."""
    return next((g for g in v["grid"] if g["value"] in (None, 50.0)), v["best"])


def run(cfg: Config) -> dict:
    problems = {}
    for problem in cfg.problems:
        model, loss, train, criterion, max_epochs, n_seeds = setup(cfg, problem)
        keys = jax.random.split(jax.random.PRNGKey(cfg.seed), n_seeds)
        rules = {}
        for rule in cfg.rules:
            rules[rule] = _common.rule_population(
                model,
                loss,
                rule,
                grid(cfg, problem, rule),
                train,
                keys,
                epochs=max_epochs,
                target_loss=criterion,
                alpha=cfg.alpha,
            )
            b = rules[rule]["best"]
            print(
                f"  {problem}: {rule:10s} success {b['success_rate']:.2f}, median epochs "
                f"{_common.fmt(b['median_epochs'])} ({rules[rule]['seconds']:.1f} s)",
                flush=True,
            )
        if problem == "encoder" and cfg.encoder_lm:
            rules["levenberg-marquardt"] = levenberg_marquardt(
                model, train, keys, criterion, cfg.encoder_lm_max_iter
            )
            b = rules["levenberg-marquardt"]["best"]
            print(
                f"  {problem}: LM success {b['success_rate']:.2f}, median epochs {_common.fmt(b['median_epochs'])}"
            )
        problems[problem] = {
            "model": repr(model),
            "loss": loss.name,
            "criterion": criterion,
            "max_epochs": max_epochs,
            "n_seeds": n_seeds,
            "rules": rules,
            "ratios": ratios(rules),
        }
    summary = {}
    for p, v in problems.items():
        rules = v["rules"]
        present = [r for r in RPROPS if r in rules]
        if not present or "sgd" not in rules:
            continue
        best_r = min(present, key=lambda r: rules[r]["best"]["median_epochs"])
        default_r = min(present, key=lambda r: default_rprop(rules[r])["median_epochs"])
        sgd = rules["sgd"]["best"]
        mom = rules["momentum"]["best"] if "momentum" in rules else None
        summary[p] = {
            "best_rprop": f"{best_r} {_common.hparam_label(rules[best_r]['best'])}",
            "ratio_sgd_over_rprop": ratio(sgd, rules[best_r]["best"]),
            "ratio_momentum_over_rprop": ratio(mom, rules[best_r]["best"]) if mom else None,
            "best_default_rprop": default_r,
            "ratio_sgd_over_default_rprop": ratio(sgd, default_rprop(rules[default_r])),
            "ratio_momentum_over_default_rprop": ratio(mom, default_rprop(rules[default_r]))
            if mom
            else None,
            "ratio_sgd_over_default_rprop_successful": ratio(
                sgd, default_rprop(rules[default_r]), "median_epochs_successful"
            ),
            "default_rprop_success_rate": default_rprop(rules[default_r])["success_rate"],
            "order_of_magnitude_vs_sgd": bool(ratio(sgd, rules[best_r]["best"]) >= 10),
        }
        if "levenberg-marquardt" in rules:
            summary[p]["ratio_sgd_over_lm"] = ratio(sgd, rules["levenberg-marquardt"]["best"])
    return {"problems": problems, "summary": summary}


def plot(results: dict, out: Path) -> list[Path]:
    plt = _common.pyplot()
    problems = results["problems"]
    fig, axes = plt.subplots(
        1, len(problems), figsize=(5.2 * len(problems), 3.9), layout="constrained", squeeze=False
    )
    for ax, (p, v) in zip(axes[0], problems.items()):
        names = list(v["rules"])
        data_, labels = [], []
        for r in names:
            b = v["rules"][r]["best"]
            e = np.asarray(b["epochs_to_target"], dtype=float)
            data_.append(e[e > 0] if (e > 0).any() else np.array([math.nan]))
            hp = (
                ""
                if b["value"] is None
                else "\n" + _common.hparam_label(b).replace("step_max", "Δmax")
            )
            labels.append(
                f"{r.replace('levenberg-marquardt', 'LM')}{hp}\n{b['success_rate']:.0%} ok"
            )
        ax.boxplot(data_)
        ax.set_xticks(range(1, len(names) + 1), labels, fontsize=6.5)
        ax.set(
            yscale="log",
            ylabel="epochs to target (successful seeds)",
            title=f"{p}: {v['loss']} < {v['criterion']} ({v['n_seeds']} seeds)",
        )
    return [_common.save_figure(fig, Path(out) / "rprop_vs_backprop.png")]


def table(results: dict) -> str:
    rows = []
    for p, v in results["problems"].items():
        for r, x in v["rules"].items():
            shown = x["grid"] if r in RPROPS else [x["best"]]  # Rprop: default and small Δ_max
            for b in shown:
                rows.append(
                    (
                        p,
                        r,
                        _common.hparam_label(b),
                        b["success_rate"],
                        b["median_epochs"],
                        b["median_epochs_successful"],
                        ratio(v["rules"]["sgd"]["best"], b) if "sgd" in v["rules"] else "-",
                        ratio(v["rules"]["momentum"]["best"], b)
                        if "momentum" in v["rules"]
                        else "-",
                    )
                )
    text = _common.format_table(
        [
            "problem",
            "rule",
            "setting",
            "success",
            "median epochs",
            "median (ok only)",
            "sgd/rule",
            "momentum/rule",
        ],
        rows,
    )
    text += (
        "\n(sgd, momentum, quickprop at their best learning rate; medians count failures as inf)"
    )
    for p, s in results["summary"].items():
        mom = s["ratio_momentum_over_rprop"]
        text += (
            f"\n{p}: best Rprop ({s['best_rprop']}) needs {_common.fmt(s['ratio_sgd_over_rprop'])}x fewer epochs "
            f"than tuned backprop and {_common.fmt(mom) if mom is not None else '-'}x fewer than tuned momentum; "
            f"with default Δ_max=50 ({s['best_default_rprop']}): {_common.fmt(s['ratio_sgd_over_default_rprop'])}x, "
            f"on its successful seeds only {_common.fmt(s['ratio_sgd_over_default_rprop_successful'])}x, success "
            f"{s['default_rprop_success_rate']:.0%} (order of magnitude vs backprop: {s['order_of_magnitude_vs_sgd']})"
        )
    return text


def main(argv: list[str] | None = None) -> int:
    return _common.main(NAME, Config, run, plot, table, argv, doc=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
