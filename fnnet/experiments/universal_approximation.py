"""Universal approximation: one hidden layer of tanh units fits a 1-D function better as it widens.

The notes (Cybenko 1989): an MLP with one hidden layer and enough hidden units approximates any
continuous function. For each target from ``data.regression_1d`` (200 noise-free training points)
a 1-H-1 net (tanh hidden units, linear output) is trained with Levenberg-Marquardt
(``optim.levenberg_marquardt``, in float64, to convergence or ``max_iter``) for H = 1, 2, ..., 32, from
``restarts`` initialisations at once (vmap); the restart with the lowest validation error is kept
and its mean squared error on the test grid (200 evenly spaced points, exact targets) reported.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import data, optim
from fnnet import layers as L
from fnnet.experiments import _common

NAME = "universal_approximation"


@dataclasses.dataclass(frozen=True)
class Config:
    targets: tuple[str, ...] = ("sinc", "nielsen")
    widths: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    n_train: int = 200
    restarts: int = 5
    max_iter: int = 1000
    float64: bool = True  # LM's normal equations in float32 stall near MSE ~1e-7
    seed: int = 0

    @classmethod
    def smoke(cls) -> Config:
        return cls(targets=("sinc",), widths=(1, 4, 16), restarts=2, max_iter=100, float64=False)


def fit_width(H: int, ds: data.Dataset, keys, max_iter: int) -> dict:
    model = L.serial(L.Dense(H), L.Tanh(), L.Dense(1))
    x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)

    def residuals(params):
        return model.apply(params, x) - y

    def one(key):
        _, params = model.init(key, (-1, 1))
        r = optim.levenberg_marquardt(residuals, params, max_iter=max_iter)
        return r.params, r.sse, r.iterations

    with _common.Stopwatch() as sw:
        params, sse, iters = jax.jit(jax.vmap(one))(keys)
        x_eval = jnp.asarray(
            np.concatenate([ds.x_val, ds.x_test])
        )  # one evaluation for both splits
        y_hat = np.asarray(jax.vmap(model.apply, in_axes=(0, None))(params, x_eval), np.float64)
        err = (
            y_hat - np.concatenate([ds.y_val, ds.y_test])[None]
        ) ** 2  # (restarts, n_val + n_test, 1)
        val, test = err[:, : ds.n_val, 0].mean(axis=1), err[:, ds.n_val :, 0].mean(axis=1)
        best = int(np.argmin(val))
        curve = y_hat[best, ds.n_val :, 0]
    return {
        "H": H,
        "n_params": 3 * H + 1,
        "train_mse": (np.asarray(sse, np.float64) / ds.n_train).tolist(),
        "val_mse": val.tolist(),
        "test_mse_all": test.tolist(),
        "lm_iterations": np.asarray(iters).tolist(),
        "best_restart": best,
        "test_mse": float(test[best]),
        "fit": curve.tolist(),
        "seconds": sw.seconds,
    }


def run(cfg: Config) -> dict:
    if cfg.float64:
        with _common.enable_x64():
            return _run(cfg)
    return _run(cfg)


def _run(cfg: Config) -> dict:
    keys = jax.random.split(jax.random.PRNGKey(cfg.seed), cfg.restarts)
    targets = {}
    for fn in cfg.targets:
        ds = data.regression_1d(n=cfg.n_train, fn=fn, seed=cfg.seed)
        if cfg.float64:
            ds = ds.astype(np.float64)
        rows = []
        for H in cfg.widths:
            rows.append(fit_width(H, ds, keys, cfg.max_iter))
            print(f"  {fn}: H={H:3d} test MSE {rows[-1]['test_mse']:.3g}", flush=True)
        targets[fn] = {
            "description": ds.metadata["description"],
            "x_test": ds.x_test[:, 0].tolist(),
            "y_test": ds.y_test[:, 0].tolist(),
            "x_train": ds.x_train[:, 0].tolist(),
            "y_train": ds.y_train[:, 0].tolist(),
            "widths": rows,
        }
    return {
        "targets": targets,
        "summary": {
            fn: {
                "test_mse": {str(r["H"]): r["test_mse"] for r in v["widths"]},
                "first_over_last": v["widths"][0]["test_mse"] / v["widths"][-1]["test_mse"],
                "first_over_best": v["widths"][0]["test_mse"]
                / min(r["test_mse"] for r in v["widths"]),
            }
            for fn, v in targets.items()
        },
    }


def plot(results: dict, out: Path) -> list[Path]:
    plt = _common.pyplot()
    targets = results["targets"]
    fig, axes = plt.subplots(
        len(targets), 2, figsize=(10, 3.4 * len(targets)), layout="constrained", squeeze=False
    )
    for (a1, a2), (fn, v) in zip(axes, targets.items()):
        Hs = [r["H"] for r in v["widths"]]
        a1.loglog(Hs, [r["test_mse"] for r in v["widths"]], "o-", label="best of restarts (by val)")
        a1.loglog(
            Hs,
            [np.median(r["test_mse_all"]) for r in v["widths"]],
            "x:",
            label="median of restarts",
        )
        a1.set_xticks(Hs, [str(h) for h in Hs])
        a1.set_xticks([], minor=True)
        a1.set(xlabel="hidden tanh units H", ylabel="test MSE", title=f"{fn}: {v['description']}")
        a1.legend(fontsize=8)
        a2.plot(v["x_test"], v["y_test"], "k-", lw=2.5, alpha=0.35, label="target")
        for r in v["widths"]:
            a2.plot(v["x_test"], r["fit"], lw=1, label=f"H={r['H']}")
        a2.set(xlabel="x", ylabel="y", title="fits (LM, best restart)")
        a2.legend(fontsize=7, ncol=2)
    return [_common.save_figure(fig, Path(out) / "universal_approximation.png")]


def table(results: dict) -> str:
    fns = list(results["targets"])
    Hs = [r["H"] for r in results["targets"][fns[0]]["widths"]]
    rows = []
    for i, H in enumerate(Hs):
        rows.append(
            (H, 3 * H + 1, *[results["targets"][fn]["widths"][i]["test_mse"] for fn in fns])
        )
    return _common.format_table(["H", "params", *[f"test MSE {fn}" for fn in fns]], rows)


def main(argv: list[str] | None = None) -> int:
    return _common.main(NAME, Config, run, plot, table, argv, doc=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
