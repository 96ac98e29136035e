"""Stacked autoencoders: greedy layer-wise pretraining, then supervised fine-tuning, with few labels.

The notes' recipe: (1) train the first layer as a shallow autoencoder; (2) use its hidden units'
outputs as the input of another shallow autoencoder; (3) repeat to the desired depth; (4) fine-tune
the whole stack with supervised learning. Steps 1-3 use no labels.

On the 8x8 digits: every training image (1,258) is unlabelled data for pretraining; only a stratified
10% of them (126) keep their labels for fine-tuning. Net 64-64-32-16-10, sigmoid hidden units.
Each layer's autoencoder is ``Dense(h) -> Sigmoid -> Dense(d) -> Sigmoid`` trained full-batch with
iRprop- on the mean squared reconstruction error; its encoder becomes the layer. Fine-tuning
(softmax cross-entropy, full-batch momentum, same epochs) starts either from the pretrained
encoders or from a random (Glorot) initialisation; the output layer is random in both. Every seed
(a different labelled subset and initialisation) trains at once: ``vmap`` over members of
``fnnet.train.make_epochs``. As a reference the same comparison runs with all labels.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import data, losses, optim
from fnnet import layers as L
from fnnet.data import split_counts
from fnnet.experiments import _common
from fnnet.train import init_state, make_epochs

NAME = "stacked_autoencoder"


@dataclasses.dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...] = (64, 32, 16)
    label_fractions: tuple[float, ...] = (0.1, 1.0)
    pretrain_epochs: int = 300
    finetune_epochs: int = 300
    learning_rate: float = 0.3
    alpha: float = 0.9
    n_seeds: int = 5
    seed: int = 0

    @classmethod
    def smoke(cls) -> Config:
        return cls(
            hidden=(32,),
            label_fractions=(0.1,),
            pretrain_epochs=100,
            finetune_epochs=150,
            n_seeds=2,
        )


def train_members(model, loss, optimizer, keys, x, t, epochs: int, params=None):
    """Train one member per key, full batch, member i on (x[i], t[i]) from params[i] (or a fresh
    init when params is None); one vmapped program. Returns (params, train_loss per epoch)."""
    run = make_epochs(
        model, loss, optimizer, n_train=x.shape[1], batch_size=x.shape[1], shuffle=False
    )

    def one(key, x, t, params):
        state = init_state(model, optimizer, key, (-1, *x.shape[1:]), params=params)
        state, _, metrics = run(state, jnp.array(False), x, t, None, None, n_epochs=epochs)
        return state.params, metrics["train_loss"]

    return jax.jit(jax.vmap(one))(keys, x, t, params)


def pretrain(cfg: Config, x_all, keys) -> tuple[list, list[dict]]:
    """Greedy layer-wise: an autoencoder per layer on the previous layer's codes (no labels)."""
    codes = x_all  # (members, n, d)
    encoders, log = [], []
    for layer, h in enumerate(cfg.hidden):
        d = codes.shape[-1]
        ae = L.serial(L.Dense(h), L.Sigmoid(), L.Dense(d), L.Sigmoid())
        layer_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, 1000 + layer)
        with _common.Stopwatch() as sw:
            params, loss = train_members(
                ae,
                losses.mse,
                optim.rprop("irprop-"),
                layer_keys,
                codes,
                codes,
                cfg.pretrain_epochs,
            )
        loss = np.asarray(loss)
        log.append(
            {
                "layer": layer,
                "autoencoder": f"{d}-{h}-{d}",
                "mse_first": loss[:, 0].tolist(),
                "mse_final": loss[:, -1].tolist(),
                "seconds": sw.seconds,
            }
        )
        print(
            f"  pretrain layer {layer} ({d}-{h}-{d}): reconstruction mse {np.median(loss[:, -1]):.4f}",
            flush=True,
        )
        encoder = params[0]
        encoders.append(encoder)
        layer_fn = L.serial(L.Dense(h), L.Sigmoid())
        codes = jax.jit(jax.vmap(lambda p, x, f=layer_fn: f.apply((p, ()), x)))(encoder, codes)
    return encoders, log


def classifier(cfg: Config):
    layers = []
    for h in cfg.hidden:
        layers += [L.Dense(h), L.Sigmoid()]
    return L.serial(*layers, L.Dense(10))


def run(cfg: Config) -> dict:
    ds = data.digits(seed=cfg.seed)
    K = cfg.n_seeds
    keys = jax.random.split(jax.random.PRNGKey(cfg.seed), K)
    x_all = jnp.broadcast_to(jnp.asarray(ds.x_train), (K, *ds.x_train.shape))
    encoders, pre_log = pretrain(cfg, x_all, keys)

    net = classifier(cfg)
    optimizer = optim.momentum(cfg.learning_rate, cfg.alpha)
    x_test, y_test = jnp.asarray(ds.x_test), jnp.asarray(ds.y_test)
    fine_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, 2000)
    random_params = jax.vmap(lambda k: init_state(net, optimizer, k, (-1, 64)).params)(fine_keys)
    pretrained_params = tuple(
        encoders[i // 2] if i % 2 == 0 and i // 2 < len(encoders) else p
        for i, p in enumerate(random_params)
    )
    acc_fn = jax.jit(
        jax.vmap(
            lambda p: jnp.mean((jnp.argmax(net.apply(p, x_test), -1) == y_test).astype(jnp.float32))
        )
    )

    results = {}
    for fraction in cfg.label_fractions:
        n_lab = round(fraction * ds.n_train)
        if n_lab >= ds.n_train:
            idx = np.tile(np.arange(ds.n_train), (K, 1))
        else:
            idx = np.stack(
                [
                    split_counts(
                        ds.n_train, ds.y_train, n_val=n_lab, n_test=0, seed=cfg.seed + 100 * k + 1
                    )[1]
                    for k in range(K)
                ]
            )
        x_lab, y_lab = jnp.asarray(ds.x_train[idx]), jnp.asarray(ds.y_train[idx])
        entry = {"n_labelled": int(idx.shape[1])}
        # both initialisations in one vmapped program: members 0..K-1 random, K..2K-1 pretrained
        both = jax.tree_util.tree_map(
            lambda a, b: jnp.concatenate([a, b]), random_params, pretrained_params
        )

        def twice(a):
            return jnp.concatenate([a, a])

        with _common.Stopwatch() as sw:
            trained, loss = train_members(
                net,
                losses.softmax_cross_entropy,
                optimizer,
                twice(fine_keys),
                twice(x_lab),
                twice(y_lab),
                cfg.finetune_epochs,
                both,
            )
            acc = np.asarray(acc_fn(trained), dtype=np.float64)
        loss = np.asarray(loss)
        for i, init in enumerate(("random", "pretrained")):
            a = acc[i * K : (i + 1) * K]
            entry[init] = {
                "test_accuracy": a.tolist(),
                "test_accuracy_mean": float(a.mean()),
                "test_accuracy_std": float(a.std()),
                "train_loss": np.median(loss[i * K : (i + 1) * K], axis=0).tolist(),
            }
            print(
                f"  {fraction:.0%} labels ({idx.shape[1]}), {init:10s}: test accuracy {a.mean():.4f} "
                f"+- {a.std():.4f}",
                flush=True,
            )
        entry["seconds"] = sw.seconds
        entry["gain"] = (
            entry["pretrained"]["test_accuracy_mean"] - entry["random"]["test_accuracy_mean"]
        )
        entry["pretrained_wins"] = int(
            np.sum(
                np.asarray(entry["pretrained"]["test_accuracy"])
                > np.asarray(entry["random"]["test_accuracy"])
            )
        )
        results[f"{fraction:g}"] = entry
    return {
        "model": repr(net),
        "pretraining": pre_log,
        "label_fractions": results,
        "summary": {
            f"{k}_labels": {
                "random": v["random"]["test_accuracy_mean"],
                "pretrained": v["pretrained"]["test_accuracy_mean"],
                "gain": v["gain"],
                "pretrained_wins": f"{v['pretrained_wins']}/{K}",
            }
            for k, v in results.items()
        },
    }


def plot(results: dict, out: Path) -> list[Path]:
    plt = _common.pyplot()
    fr = results["label_fractions"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    for i, (k, v) in enumerate(fr.items()):
        for j, init in enumerate(("random", "pretrained")):
            acc = v[init]["test_accuracy"]
            x = i * 3 + j
            a1.bar(
                x,
                v[init]["test_accuracy_mean"],
                color=f"C{j}",
                alpha=0.7,
                label=init if i == 0 else None,
            )
            a1.plot([x] * len(acc), acc, "k.", ms=4)
    a1.set_xticks(
        [i * 3 + 0.5 for i in range(len(fr))],
        [f"{float(k):.0%} labels\n({v['n_labelled']})" for k, v in fr.items()],
    )
    lo = min(min(v[i]["test_accuracy"]) for v in fr.values() for i in ("random", "pretrained"))
    a1.set(
        ylabel="test accuracy",
        ylim=(max(0.0, lo - 0.05), 1.0),
        title="fine-tuned from random vs pretrained",
    )
    a1.legend(fontsize=8)
    first = next(iter(fr))
    for j, init in enumerate(("random", "pretrained")):
        loss = fr[first][init]["train_loss"]
        a2.semilogy(np.arange(1, len(loss) + 1), loss, color=f"C{j}", label=init)
    a2.set(
        xlabel="fine-tuning epoch",
        ylabel="training loss (median over seeds)",
        title=f"fine-tuning on {fr[first]['n_labelled']} labelled digits",
    )
    a2.legend(fontsize=8)
    return [_common.save_figure(fig, Path(out) / "stacked_autoencoder.png")]


def table(results: dict) -> str:
    rows = []
    for k, v in results["label_fractions"].items():
        rows.append(
            (
                f"{float(k):.0%} ({v['n_labelled']})",
                v["random"]["test_accuracy_mean"],
                v["random"]["test_accuracy_std"],
                v["pretrained"]["test_accuracy_mean"],
                v["pretrained"]["test_accuracy_std"],
                v["gain"],
                f"{v['pretrained_wins']}/{len(v['random']['test_accuracy'])}",
            )
        )
    return (
        _common.format_table(
            [
                "labels",
                "random init acc",
                "+-",
                "pretrained acc",
                "+-",
                "gain",
                "pretrained better",
            ],
            rows,
        )
        + f"\n{results['model']}; test accuracy mean +- std over seeds"
    )


def main(argv: list[str] | None = None) -> int:
    return _common.main(NAME, Config, run, plot, table, argv, doc=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
