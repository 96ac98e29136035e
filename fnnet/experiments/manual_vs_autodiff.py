"""Hand-derived backprop vs jax.grad: the same gradients, and what each costs per training step.

1. Agreement: ``gradcheck.check`` on an MLP (sigmoid, tanh, ReLU), a CNN (conv, max-pool, flatten)
   and a residual net, on a batch of digits, at initial weights with random (not zero) biases: per
   parameter leaf, the leaf-relative error of manual vs autodiff in float32 and again in float64,
   and of manual vs float64 central finite differences.
2. Speed: a jitted training step (gradient + momentum update, ``train.make_step``) with
   ``grad="manual"`` and with ``grad="autodiff"``; after compiling and warming up both, ``repeats``
   timed calls of each, alternating between the two (so load changes hit both), each ended by
   ``block_until_ready``. Reported: medians and their ratio manual / autodiff.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import data, gradcheck, losses, optim
from fnnet import layers as L
from fnnet.experiments import _common
from fnnet.experiments.cnn import digits_cnn
from fnnet.train import init_state, make_step

NAME = "manual_vs_autodiff"


@dataclasses.dataclass(frozen=True)
class Config:
    models: tuple[str, ...] = ("mlp", "cnn", "residual")
    check_batch: int = 32
    max_fd_elements: int = 16
    float64: bool = True
    time_batch: int = 256
    warmup: int = 5
    repeats: int = 200
    seed: int = 0

    @classmethod
    def smoke(cls) -> Config:
        return cls(models=("residual",), float64=False, max_fd_elements=4, repeats=10, warmup=2)


def build(name: str):
    if name == "mlp":
        return L.serial(
            L.Dense(32), L.Sigmoid(), L.Dense(32), L.Tanh(), L.Dense(32), L.ReLU(), L.Dense(10)
        ), (64,)
    if name == "cnn":
        return digits_cnn(), (64,)
    if name == "residual":
        return L.serial(
            L.Dense(32),
            L.Tanh(),
            L.Residual(L.Dense(32), L.Tanh()),
            L.Residual(L.Dense(32), L.ReLU()),
            L.Residual(L.Dense(32), L.Sigmoid()),
            L.Dense(10),
        ), (64,)
    raise ValueError(f"unknown model {name!r}; choose mlp, cnn or residual")


def off_the_kinks(params, key, stddev: float = 0.1):
    """Biases ~ N(0, stddev^2) instead of 0. With zero biases an all-zero input patch (digits have
    many) puts a conv unit exactly on ReLU's kink, where central differences measure the mean of
    the two one-sided slopes and no gradient is right; random biases move every unit off it."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    keys = jax.random.split(key, len(leaves))
    new = [
        stddev * jax.random.normal(k, leaf.shape, leaf.dtype)
        if path[-1] == jax.tree_util.DictKey("b")
        else leaf
        for (path, leaf), k in zip(leaves, keys, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, new)


def agreement(model, x, y, key, cfg: Config, dtype) -> dict:
    _, params = model.init(key, (-1, x.shape[1]))
    params = off_the_kinks(params, jax.random.fold_in(key, 1))
    params = jax.tree_util.tree_map(lambda p: p.astype(dtype), params)
    report = gradcheck.check(
        model,
        losses.softmax_cross_entropy,
        params,
        jnp.asarray(x, dtype),
        y,
        max_fd_elements=cfg.max_fd_elements,
        seed=cfg.seed,
    )
    d = report.to_dict()
    return {
        "passed": d["passed"],
        "max_rel_manual_vs_autodiff": max(leaf["max_rel_err"] for leaf in d["leaves"]),
        "max_rel_manual_vs_fd64": max(leaf["fd_rel_err"] for leaf in d["leaves"]),
        "leaves": [
            {
                k: leaf[k]
                for k in (
                    "path",
                    "shape",
                    "dtype",
                    "max_rel_err",
                    "fd_rel_err",
                    "fd_checked",
                    "passed",
                )
            }
            for leaf in d["leaves"]
        ],
        "table": str(report),
    }


def step_times(model, x, y, key, cfg: Config) -> dict:
    """Median (and IQR) wall time of one jitted training step with each gradient.

    Both steps are compiled and warmed up first; then the timed calls alternate manual, autodiff,
    manual, ... so that a change in machine load touches both alike.
    """
    optimizer = optim.momentum(0.05, 0.9)
    steps, states, first = {}, {}, {}
    for grad in ("manual", "autodiff"):
        states[grad] = init_state(model, optimizer, key, (-1, x.shape[1]))
        steps[grad] = jax.jit(make_step(model, losses.softmax_cross_entropy, optimizer, grad))
        t0 = time.perf_counter()
        states[grad], _ = steps[grad](states[grad], (x, y))
        jax.block_until_ready(states[grad])
        first[grad] = time.perf_counter() - t0
        for _ in range(cfg.warmup):
            states[grad], _ = steps[grad](states[grad], (x, y))
        jax.block_until_ready(states[grad])
    times: dict[str, list[float]] = {"manual": [], "autodiff": []}
    for _ in range(cfg.repeats):
        for grad in ("manual", "autodiff"):
            t0 = time.perf_counter()
            states[grad], _ = steps[grad](states[grad], (x, y))
            jax.block_until_ready(states[grad])
            times[grad].append(time.perf_counter() - t0)
    out: dict = {}
    for grad, t in times.items():
        t = np.asarray(t) * 1e3
        out[grad] = {
            "median_ms": float(np.median(t)),
            "q25_ms": float(np.percentile(t, 25)),
            "q75_ms": float(np.percentile(t, 75)),
            "first_call_s": first[grad],
        }
    out["ratio_manual_over_autodiff"] = out["manual"]["median_ms"] / out["autodiff"]["median_ms"]
    return out


def run(cfg: Config) -> dict:
    ds = data.digits(seed=cfg.seed)
    key = jax.random.PRNGKey(cfg.seed)
    xc, yc = ds.x_train[: cfg.check_batch], jnp.asarray(ds.y_train[: cfg.check_batch])
    xt, yt = jnp.asarray(ds.x_train[: cfg.time_batch]), jnp.asarray(ds.y_train[: cfg.time_batch])
    models = {}
    for name in cfg.models:
        model, _ = build(name)
        entry = {"model": repr(model), "float32": agreement(model, xc, yc, key, cfg, np.float32)}
        if cfg.float64:
            with _common.enable_x64():
                entry["float64"] = agreement(model, xc, yc, key, cfg, np.float64)
        timing = step_times(model, xt, yt, key, cfg)
        entry["timing"] = timing
        models[name] = entry
        print(
            f"  {name:9s}: rel(manual, autodiff) f32 {entry['float32']['max_rel_manual_vs_autodiff']:.2g}"
            + (f", f64 {entry['float64']['max_rel_manual_vs_autodiff']:.2g}" if cfg.float64 else "")
            + f"; step {timing['manual']['median_ms']:.3f} ms manual / {timing['autodiff']['median_ms']:.3f} ms "
            f"autodiff = {timing['ratio_manual_over_autodiff']:.2f}",
            flush=True,
        )
    return {
        "check_batch": cfg.check_batch,
        "time_batch": int(xt.shape[0]),
        "models": models,
        "summary": {
            name: {
                "passed": v["float32"]["passed"] and (v.get("float64", {"passed": True})["passed"]),
                "max_rel_f32": v["float32"]["max_rel_manual_vs_autodiff"],
                "max_rel_f64": v["float64"]["max_rel_manual_vs_autodiff"]
                if "float64" in v
                else None,
                "max_rel_fd64": v["float32"]["max_rel_manual_vs_fd64"],
                "step_ratio_manual_over_autodiff": v["timing"]["ratio_manual_over_autodiff"],
            }
            for name, v in models.items()
        },
    }


def plot(results: dict, out: Path) -> list[Path]:
    plt = _common.pyplot()
    models = results["models"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    xs, labels = [], []
    i = 0
    for name, v in models.items():
        for dt, marker in (("float32", "o"), ("float64", "s")):
            if dt not in v:
                continue
            errs = [max(leaf["max_rel_err"], 1e-18) for leaf in v[dt]["leaves"]]
            a1.semilogy(
                np.arange(i, i + len(errs)),
                errs,
                marker,
                ms=4,
                color="C0" if dt == "float32" else "C1",
                label=dt if name == next(iter(models)) else None,
            )
        n = len(v["float32"]["leaves"])
        xs.append(i + (n - 1) / 2)
        labels.append(name)
        i += n + 1
    a1.set_xticks(xs, labels)
    a1.set(
        ylabel="max |manual - autodiff| / max |autodiff| per leaf",
        title="gradient agreement per parameter leaf",
    )
    a1.legend(fontsize=8)
    names = list(models)
    w = 0.38
    for j, grad in enumerate(("manual", "autodiff")):
        med = [models[n]["timing"][grad]["median_ms"] for n in names]
        lo = [med[k] - models[n]["timing"][grad]["q25_ms"] for k, n in enumerate(names)]
        hi = [models[n]["timing"][grad]["q75_ms"] - med[k] for k, n in enumerate(names)]
        a2.bar(np.arange(len(names)) + (j - 0.5) * w, med, w, yerr=[lo, hi], label=grad)
    a2.set_xticks(
        np.arange(len(names)),
        [f"{n}\n{models[n]['timing']['ratio_manual_over_autodiff']:.2f}x" for n in names],
    )
    a2.set(
        ylabel="jitted step time (ms, median, IQR)",
        title=f"training step, batch {results['time_batch']}",
    )
    a2.legend(fontsize=8)
    return [_common.save_figure(fig, Path(out) / "manual_vs_autodiff.png")]


def table(results: dict) -> str:
    rows = []
    for name, v in results["models"].items():
        for leaf in v["float32"]["leaves"]:
            f64 = (
                next((x for x in v["float64"]["leaves"] if x["path"] == leaf["path"]), None)
                if "float64" in v
                else None
            )
            rows.append(
                (
                    name,
                    leaf["path"],
                    "x".join(map(str, leaf["shape"])) or "()",
                    leaf["max_rel_err"],
                    f64["max_rel_err"] if f64 else "-",
                    leaf["fd_rel_err"],
                    "PASS" if leaf["passed"] else "FAIL",
                )
            )
    t1 = _common.format_table(
        ["model", "leaf", "shape", "rel(m,a) f32", "rel(m,a) f64", "rel(m,fd64)", "ok"], rows
    )
    t2 = _common.format_table(
        ["model", "manual ms", "autodiff ms", "manual / autodiff"],
        [
            (
                n,
                v["timing"]["manual"]["median_ms"],
                v["timing"]["autodiff"]["median_ms"],
                v["timing"]["ratio_manual_over_autodiff"],
            )
            for n, v in results["models"].items()
        ],
    )
    return f"{t1}\n\n{t2}"


def main(argv: list[str] | None = None) -> int:
    return _common.main(NAME, Config, run, plot, table, argv, doc=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
