"""W3 -- full-batch Rprop: 64-32-10 tanh, softmax cross-entropy, all 1,797 scikit-learn digits in
one batch, iRprop- (step_init 0.1, step_min 1e-6, step_max 50, eta 0.5 / 1.2), 500 iterations."""

from __future__ import annotations

from typing import Any

import jax

from benchmarks import peers as P
from benchmarks.common import (
    canonical_from_fnnet,
    default_metrics_ratio,
    digits_full,
    fit_vs_scan,
    loss_np,
    mlp_np,
    run_all,
)
from benchmarks.fnnet_runners import LOSS_ONLY, epochs_runner, fit_runner
from fnnet import layers as L
from fnnet import losses, optim

SIZES = {"full": {"iterations": 500}, "quick": {"iterations": 500}, "tiny": {"iterations": 20}}
STEP_INIT, STEP_MIN, STEP_MAX, SEED = 0.1, 1e-6, 50.0, 0
PEER_ORDER = ("jax_scan", "jax_loop", "flax", "equinox", "torch")


def model():
    return L.serial(L.Dense(32), L.Tanh(), L.Dense(10))


def run(
    size: str, repeats: int, peers: set[str] | None = None, core: bool = False
) -> dict[str, Any]:
    iters = SIZES[size]["iterations"]
    x, labels = digits_full()
    n = x.shape[0]
    net = model()
    _, params0 = net.init(jax.random.PRNGKey(SEED), (-1, 64))
    can0 = canonical_from_fnnet(params0)
    task = P.MLPTask(
        sizes=(64, 32, 10),
        act="tanh",
        out_act=None,
        loss="softmax_ce",
        opt=("irprop-", STEP_INIT, STEP_MIN, STEP_MAX),
        x=x,
        labels=labels,
        batch=n,
        steps=iters,
        params0=can0,
        full_batch=True,
        torch_threads=1,
    )

    def evaluate(can):
        return loss_np("softmax_ce", mlp_np(can, x, "tanh", None), labels)

    opt = optim.rprop("irprop-", step_init=STEP_INIT, step_min=STEP_MIN, step_max=STEP_MAX)
    ce = losses.softmax_cross_entropy
    common = {"key": SEED, "epochs": iters, "batch_size": n, "shuffle": False}
    common = {**common, "step_metrics": LOSS_ONLY}
    makers = [
        lambda: fit_runner(
            "fnnet fit, manual backprop", net, ce, opt, x, labels, params0, grad="manual",
            epochs_per_call=iters, **common,
        ),
        lambda: fit_runner(
            "fnnet fit, jax.grad", net, ce, opt, x, labels, params0, grad="autodiff",
            epochs_per_call=iters, **common,
        ),
        lambda: fit_runner(
            "fnnet fit, manual, default chunks", net, ce, opt, x, labels, params0, grad="manual",
            **common,
        ),
        lambda: fit_runner(
            "fnnet fit, manual, default step metrics", net, ce, opt, x, labels, params0,
            grad="manual", epochs_per_call=iters, **{**common, "step_metrics": None},
        ),
        lambda: epochs_runner(
            "fnnet make_epochs, manual, per-step guard (jit once)", net, ce, opt, x, labels, params0,
            **{k: v for k, v in common.items() if k != "step_metrics"},
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
        rows, "W3", "iters_per_s", iters,
        lambda ref, scan: f"fit {ref['iters_per_s']:.0f} it/s vs scan {scan['iters_per_s']:.0f} it/s (medians)"
        + default_metrics_ratio(rows, scan),
    )
    return {
        "id": "W3",
        "title": f"W3 64-32-10 tanh, softmax CE, full batch {n:,} (sklearn digits), iRprop-: {iters} iterations",
        "config": {
            "n": n,
            "iterations": iters,
            "step_init": STEP_INIT,
            "step_min": STEP_MIN,
            "step_max": STEP_MAX,
            "init_loss": evaluate(can0),
            "eval": "softmax CE on all 1,797 digits, float64 NumPy",
        },
        "unit": f"{iters} iterations",
        "columns": ["median_s", "min_s", "compile_s", "iters_per_s", "rel_time", "final_loss"],
        "rows": rows,
        "targets": targets,
        "notes": [
            "Data: sklearn.datasets.load_digits, all 1,797 images, pixels / 16 (bundled with scikit-learn, no download).",
            "fnnet: fit(batch_size=1797, shuffle=False, eval_train=False, epochs_per_call=500): 500 epochs in one call. "
            "'default chunks' uses fit's default epochs_per_call (100 here): 5 calls. fnnet fit rows record the "
            "per-step loss only (step_metrics=('loss',)), as the raw scan does; 'default step metrics' also "
            "records accuracy and the gradient norm each step.",
            "JAX peers use a 15-line iRprop- written as an optax GradientTransformation (optax.rprop returns each update "
            "one step late, optax pull 1725); torch uses torch.optim.Rprop (iRprop-). Same hyper-parameters everywhere.",
        ],
    }
