"""Vanishing gradients: how the back-propagated delta shrinks with depth, and skip connections.

The notes: "Many layers: back-propagated error signal vanishes". At initialisation (Glorot normal
weights, zero biases) deep MLPs -- ``depth`` hidden layers of ``width`` units, sigmoid, tanh or
ReLU, a 10-way softmax output -- take one batch of digits; the manual backward pass returns every
layer's delta (``backprop.value_and_grad(..., return_deltas=True)``), and we record
||delta_l|| = ||dE/dz_l|| (Frobenius norm over the batch and units) at the output of every Dense
layer, averaged over seeds. The same nets with skip connections -- each hidden layer after the
first a ``Residual(Dense, activation)`` block, y = x + g(x W + b) -- keep the signal.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import backprop, data, losses
from fnnet import layers as L
from fnnet.experiments import _common

NAME = "vanishing_gradients"
ACTIVATIONS = {"sigmoid": L.Sigmoid, "tanh": L.Tanh, "relu": L.ReLU}


@dataclasses.dataclass(frozen=True)
class Config:
    depth: int = 10
    width: int = 32
    activations: tuple[str, ...] = ("sigmoid", "tanh", "relu")
    batch: int = 512
    n_seeds: int = 20
    residual: bool = True
    seed: int = 0

    @classmethod
    def smoke(cls) -> Config:
        return cls(depth=6, n_seeds=4, batch=128, activations=("sigmoid",))


def build(activation: str, depth: int, width: int, residual: bool):
    """(model, paths): ``paths[l]`` indexes the delta at the output of the l-th Dense layer in
    the (nested) deltas tuple that the manual backward pass returns."""
    act = ACTIVATIONS[activation]
    layers = [L.Dense(width), act()]
    paths = [(0,)]
    for _ in range(depth - 1):
        if residual:
            # Residual = serial(FanOut(2), parallel(serial(Dense, act), Identity), FanInSum):
            # the Dense delta sits at [block][1 = parallel][0 = branch F][0 = Dense]
            paths.append((len(layers), 1, 0, 0))
            layers.append(L.Residual(L.Dense(width), act()))
        else:
            paths.append((len(layers),))
            layers += [L.Dense(width), act()]
    paths.append((len(layers),))
    layers.append(L.Dense(10))
    return L.serial(*layers), paths


def dig(tree, path):
    for i in path:
        tree = tree[i]
    return tree


def delta_norms(model, paths, x, y, keys) -> tuple[np.ndarray, np.ndarray]:
    """(seeds, layers) arrays: ||delta_l|| and ||dE/dW_l|| at initialisation, one row per seed."""
    vg = backprop.value_and_grad(model, losses.softmax_cross_entropy, return_deltas=True)

    def one(key):
        _, params = model.init(key, (-1, x.shape[1]))
        _, grads, deltas = vg(params, x, y)
        d = jnp.stack([jnp.linalg.norm(dig(deltas, p)) for p in paths])
        g = jnp.stack([jnp.linalg.norm(dig(grads, p)["W"]) for p in paths])
        return d, g

    d, g = jax.jit(jax.vmap(one))(keys)
    return np.asarray(d, np.float64), np.asarray(g, np.float64)


def run(cfg: Config) -> dict:
    ds = data.digits(seed=cfg.seed)
    x, y = jnp.asarray(ds.x_train[: cfg.batch]), jnp.asarray(ds.y_train[: cfg.batch])
    keys = jax.random.split(jax.random.PRNGKey(cfg.seed), cfg.n_seeds)
    nets = {}
    for activation in cfg.activations:
        for residual in (False, True) if cfg.residual else (False,):
            model, paths = build(activation, cfg.depth, cfg.width, residual)
            d, g = delta_norms(model, paths, x, y, keys)
            mean_d = d.mean(axis=0)
            label = f"{activation}{' + skip' if residual else ''}"
            nets[label] = {
                "activation": activation,
                "residual": residual,
                "model": repr(model),
                "delta_norm_mean": mean_d.tolist(),
                "delta_norm_std": d.std(axis=0).tolist(),
                "grad_W_norm_mean": g.mean(axis=0).tolist(),
                "first_over_last": float(mean_d[0] / mean_d[-1]),
                "first_over_last_per_seed_median": float(np.median(d[:, 0] / d[:, -1])),
            }
            print(
                f"  {label:15s} ||delta_1|| / ||delta_L|| = {mean_d[0] / mean_d[-1]:.3g}",
                flush=True,
            )
    return {
        "n_dense_layers": cfg.depth + 1,
        "batch": int(x.shape[0]),
        "nets": nets,
        "summary": {label: v["first_over_last"] for label, v in nets.items()},
    }


def plot(results: dict, out: Path) -> list[Path]:
    plt = _common.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    colors = {"sigmoid": "C0", "tanh": "C1", "relu": "C2"}
    for label, v in results["nets"].items():
        d = np.asarray(v["delta_norm_mean"])
        layers = np.arange(1, len(d) + 1)
        ax.semilogy(
            layers,
            d,
            "o-" if not v["residual"] else "s--",
            ms=4,
            color=colors.get(v["activation"]),
            label=label,
        )
    ax.set(
        xlabel="Dense layer l (1 = first hidden, last = output)",
        ylabel="||delta_l|| = ||dE/dz_l|| (mean over seeds)",
        title=f"deltas at initialisation, {results['n_dense_layers'] - 1} hidden layers, digits batch {results['batch']}",
    )
    ax.set_xticks(np.arange(1, results["n_dense_layers"] + 1))
    ax.legend(fontsize=8)
    return [_common.save_figure(fig, Path(out) / "vanishing_gradients.png")]


def table(results: dict) -> str:
    rows = []
    for label, v in results["nets"].items():
        d = v["delta_norm_mean"]
        rows.append((label, d[0], d[len(d) // 2], d[-1], v["first_over_last"]))
    return _common.format_table(
        ["net", "||delta_1||", "||delta_mid||", "||delta_L||", "first / last"], rows
    )


def main(argv: list[str] | None = None) -> int:
    return _common.main(NAME, Config, run, plot, table, argv, doc=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
