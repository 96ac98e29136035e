"""W1 -- Nielsen's chapter-1 network: 784-30-10 sigmoid, quadratic cost, SGD eta = 3.0, batch 10,
one epoch of 50,000 examples (5,000 updates). Data: synthetic MNIST-shaped (see common.py)."""

from __future__ import annotations

from typing import Any

import jax

from benchmarks import peers as P
from benchmarks.common import (
    canonical_from_fnnet,
    default_metrics_ratio,
    fit_vs_scan,
    jax_permutation,
    loss_np,
    mlp_np,
    one_hot,
    run_all,
    synthetic_mnist,
)
from benchmarks.fnnet_runners import LOSS_ONLY, epochs_runner, fit_runner
from fnnet import layers as L
from fnnet import losses, optim

SIZES = {"full": {"n": 50_000}, "quick": {"n": 5_000}, "tiny": {"n": 200}}
BATCH, ETA, SEED = 10, 3.0, 0
PEER_ORDER = ("jax_scan", "jax_loop", "flax", "equinox", "torch", "numpy")


def model():
    return L.serial(L.Dense(30), L.Sigmoid(), L.Dense(10), L.Sigmoid())


def run(
    size: str, repeats: int, peers: set[str] | None = None, core: bool = False
) -> dict[str, Any]:
    n = SIZES[size]["n"]
    x, labels = synthetic_mnist(n, seed=SEED)
    t = one_hot(labels)
    net = model()
    _, params0 = net.init(jax.random.PRNGKey(SEED), (-1, 784))
    can0 = canonical_from_fnnet(params0)
    steps = n // BATCH
    task = P.MLPTask(
        sizes=(784, 30, 10),
        act="sigmoid",
        out_act="sigmoid",
        loss="quadratic",
        opt=("sgd", ETA),
        x=x,
        labels=labels,
        batch=BATCH,
        steps=steps,
        params0=can0,
        order=jax_permutation(SEED, n),
        perm_key=SEED,
        torch_threads=1,
    )
    m = min(n, 10_000)

    def evaluate(can):
        return loss_np("quadratic", mlp_np(can, x[:m], "sigmoid", "sigmoid"), labels[:m])

    sgd = optim.sgd(ETA)
    common = {"key": SEED, "epochs": 1, "batch_size": BATCH}
    makers = [
        lambda: fit_runner(
            "fnnet fit, manual backprop",
            net,
            losses.quadratic,
            sgd,
            x,
            t,
            params0,
            grad="manual",
            step_metrics=LOSS_ONLY,
            **common,
        ),
        lambda: fit_runner(
            "fnnet fit, jax.grad",
            net,
            losses.quadratic,
            sgd,
            x,
            t,
            params0,
            grad="autodiff",
            step_metrics=LOSS_ONLY,
            **common,
        ),
        lambda: fit_runner(
            "fnnet fit, manual, default step metrics",
            net,
            losses.quadratic,
            sgd,
            x,
            t,
            params0,
            grad="manual",
            **common,
        ),
        lambda: epochs_runner(
            "fnnet make_epochs, manual, per-step guard (jit once)",
            net,
            losses.quadratic,
            sgd,
            x,
            t,
            params0,
            **common,
        ),
    ]
    if core:  # smoke test: fnnet's main row only
        makers = makers[:1]
    makers += [
        (lambda name=name: P.PEERS[name](task))
        for name in PEER_ORDER
        if peers is None or name in peers
    ]
    rows = run_all(makers, repeats, evaluate)

    targets = fit_vs_scan(
        rows, "W1", "examples_per_s", steps * BATCH,
        lambda ref, scan: f"fit {ref['median_s']:.4g} s vs scan {scan['median_s']:.4g} s per epoch (medians)"
        + default_metrics_ratio(rows, scan),
    )
    return {
        "id": "W1",
        "title": f"W1 Nielsen 784-30-10 sigmoid, quadratic, SGD {ETA}, batch {BATCH}: one epoch of {n:,} examples ({steps:,} updates)",
        "config": {
            "n": n,
            "batch": BATCH,
            "eta": ETA,
            "steps": steps,
            "seed": SEED,
            "init_loss": evaluate(can0),
            "eval": f"quadratic cost on the first {m:,} training examples, float64 NumPy",
        },
        "unit": "epoch",
        "columns": ["median_s", "min_s", "compile_s", "examples_per_s", "rel_time", "final_loss"],
        "rows": rows,
        "targets": targets,
        "notes": [
            "Data: synthetic MNIST-shaped arrays (x float32 (n, 784) in [0, 1], 10 classes, seeded), no download.",
            "Every implementation starts from the same Glorot-normal params and visits the same shuffled mini-batches "
            "(fnnet's epoch permutation for key 0); the shuffle gather is inside the timed epoch for all.",
            "rel_time: median / fnnet fit (manual) median; < 1 is faster than fnnet.",
            "fnnet fit rows record the per-step loss only (step_metrics=('loss',)), as the raw scan does, and "
            "check for NaN/Inf (loss each step, parameters and optimizer state at the end); 'default step "
            "metrics' also records and checks the gradient's global norm each step.",
        ],
    }


LINEARITY = {
    "full": [6_250, 12_500, 25_000, 50_000],
    "quick": [1_250, 2_500, 5_000],
    "tiny": [100, 200],
}


def linearity(size: str, repeats: int) -> dict[str, Any]:
    """fnnet fit's epoch time vs training-set size n (W1 network, batch 10): the claim that
    training cost grows linearly with n (no per-epoch recompilation, no hidden O(n^2) step)."""

    def maker(n):
        x, labels = synthetic_mnist(n, seed=SEED)
        net = model()
        _, params0 = net.init(jax.random.PRNGKey(SEED), (-1, 784))
        return lambda: fit_runner(
            f"fit n={n}",
            net,
            losses.quadratic,
            optim.sgd(ETA),
            x,
            one_hot(labels),
            params0,
            key=SEED,
            epochs=1,
            batch_size=BATCH,
        )

    ns = LINEARITY[size]
    rows = run_all([maker(n) for n in ns], repeats)
    points = [
        {
            "n": n,
            "epoch_s": r["median_s"],
            "min_s": r["min_s"],
            "us_per_example": r["median_s"] / n * 1e6,
        }
        for n, r in zip(ns, rows)
        if r["status"] == "ok"
    ]
    return {"points": points}
