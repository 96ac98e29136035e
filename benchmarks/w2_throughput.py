"""W2 -- throughput: 784-1024-1024-10 ReLU, softmax cross-entropy, momentum (eta 0.01, alpha 0.9),
batch 512. TFLOP/s by the 6 * params * batch convention (forward 2, backward 4 FLOPs per weight
and example). Also the opt-in mixed-precision mode and the scaling sweeps for the plot."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import peers as P
from benchmarks.common import (
    canonical_from_fnnet,
    loss_np,
    mlp_np,
    param_count,
    run_all,
    synthetic_mnist,
)
from benchmarks.fnnet_runners import LOSS_ONLY, fit_runner, step_scan_runner
from fnnet import layers as L
from fnnet import losses, optim

SIZES = {
    "full": {"width": 1024, "batch": 512, "steps": 20},
    "quick": {"width": 1024, "batch": 512, "steps": 5},
    "tiny": {"width": 64, "batch": 64, "steps": 2},
}
SWEEPS = {
    "full": {
        "batches": [16, 32, 64, 128, 256, 512, 1024],
        "widths": [64, 128, 256, 512, 1024, 2048],
        "steps": 3,
    },
    "quick": {"batches": [32, 128, 512], "widths": [64, 256, 1024], "steps": 2},
    "tiny": {"batches": [8, 16], "widths": [16, 32], "steps": 1},
}
ETA, ALPHA, SEED = 0.01, 0.9, 0
PEER_ORDER = ("jax_scan", "jax_loop", "flax", "equinox", "torch")


def model(width: int):
    return L.serial(L.Dense(width), L.ReLU(), L.Dense(width), L.ReLU(), L.Dense(10))


def mixed_value_and_grad(model, loss, compute_dtype=jnp.bfloat16):
    """Mixed precision for the manual backward pass: params and inputs cast to ``compute_dtype``
    inside the forward (so every matmul, forward and backward, runs in it), the loss and its
    gradient in float32, the gradient cast back to the float32 params' dtype."""

    def vg(params, x, t):
        pc = jax.tree_util.tree_map(lambda p: p.astype(compute_dtype), params)
        y, tape = model.fwd(pc, x.astype(compute_dtype))
        y32 = y.astype(jnp.float32)
        E = loss(y32, t)
        g, _, _ = model.bwd(pc, tape, loss.grad(y32, t).astype(compute_dtype))
        return E, jax.tree_util.tree_map(lambda gi, p: gi.astype(p.dtype), g, params)

    return vg


def run(
    size: str,
    repeats: int,
    peers: set[str] | None = None,
    mixed_precision: bool = False,
    core: bool = False,
) -> dict[str, Any]:
    cfg = SIZES[size]
    width, batch, steps = cfg["width"], cfg["batch"], cfg["steps"]
    sizes = (784, width, width, 10)
    n = steps * batch
    x, labels = synthetic_mnist(n, seed=SEED + 2)
    net = model(width)
    _, params0 = net.init(jax.random.PRNGKey(SEED), (-1, 784))
    can0 = canonical_from_fnnet(params0)
    task = P.MLPTask(
        sizes=sizes,
        act="relu",
        out_act=None,
        loss="softmax_ce",
        opt=("momentum", ETA, ALPHA),
        x=x,
        labels=labels,
        batch=batch,
        steps=steps,
        params0=can0,
        order=np.arange(n),
    )

    def evaluate(can):
        return loss_np("softmax_ce", mlp_np(can, x, "relu", None), labels)

    opt = optim.momentum(ETA, ALPHA)
    ce = losses.softmax_cross_entropy
    common = {"key": SEED, "epochs": 1, "batch_size": batch, "shuffle": False, "step_metrics": LOSS_ONLY}
    makers = [
        lambda: fit_runner(
            "fnnet fit, manual backprop", net, ce, opt, x, labels, params0, grad="manual", **common
        ),
        lambda: fit_runner(
            "fnnet fit, jax.grad", net, ce, opt, x, labels, params0, grad="autodiff", **common
        ),
    ]
    if core:  # smoke test: fnnet's main row only
        makers = makers[:1]
    xs, ts = x.reshape(steps, batch, 784), labels.reshape(steps, batch)
    if mixed_precision:
        makers += [
            lambda: step_scan_runner(
                "fnnet manual step, f32 (mixed-precision reference)",
                net,
                ce,
                opt,
                xs,
                ts,
                params0,
                value_and_grad=mixed_value_and_grad(net, ce, jnp.float32),
                note="bare step: grad + update",
            ),
            lambda: step_scan_runner(
                "fnnet manual step, bf16 matmuls (mixed precision)",
                net,
                ce,
                opt,
                xs,
                ts,
                params0,
                value_and_grad=mixed_value_and_grad(net, ce, jnp.bfloat16),
                note="f32 params, loss, update",
            ),
        ]
    makers += [
        (lambda name=name: P.PEERS[name](task))
        for name in PEER_ORDER
        if peers is None or name in peers
    ]
    rows = run_all(makers, repeats, evaluate)

    flop_per_step = 6 * param_count(sizes) * batch
    for r in rows:
        if r["status"] == "ok":
            r["step_s"] = r["median_s"] / steps
            r["tflops"] = flop_per_step * steps / r["median_s"] / 1e12
    ok_peers = [r for r in rows if r["status"] == "ok" and r.get("group") == "peer"]
    best = max(ok_peers, key=lambda r: r["tflops"], default=None)
    for r in rows:
        if r["status"] == "ok" and best:
            r["vs_best_peer"] = r["tflops"] / best["tflops"]
    targets = []
    man = next(
        (r for r in rows if r["impl"] == "fnnet fit, manual backprop" and r["status"] == "ok"), None
    )
    if man and best:
        targets.append(
            {
                "id": "W2",
                "target": "fnnet (manual, f32) TFLOP/s >= 1.0x best peer",
                "value": man["vs_best_peer"],
                "threshold": 1.0,
                "met": man["vs_best_peer"] >= 1.0,
                "detail": f"fnnet {man['tflops']:.4f} vs {best['impl']} {best['tflops']:.4f} TFLOP/s",
            }
        )
    mixed = {}
    r32 = next((r for r in rows if "f32 (mixed" in r["impl"] and r["status"] == "ok"), None)
    r16 = next((r for r in rows if "bf16" in r["impl"] and r["status"] == "ok"), None)
    if r32 and r16:
        mixed = {
            "speedup_bf16_vs_f32": r32["median_s"] / r16["median_s"],
            "loss_f32": r32["final_loss"],
            "loss_bf16": r16["final_loss"],
            "loss_rel_diff": (r16["final_loss"] - r32["final_loss"]) / r32["final_loss"],
            "steps": steps,
        }
    return {
        "id": "W2",
        "title": f"W2 784-{width}-{width}-10 ReLU, softmax CE, momentum ({ETA}, {ALPHA}), batch {batch}: {steps} steps",
        "config": {
            "sizes": sizes,
            "batch": batch,
            "steps": steps,
            "params": param_count(sizes),
            "flop_per_step": flop_per_step,
            "init_loss": evaluate(can0),
            "eval": f"softmax CE on the {n:,} training examples used, float64 NumPy",
        },
        "unit": f"{steps} steps",
        "columns": [
            "median_s",
            "min_s",
            "step_s",
            "tflops",
            "vs_best_peer",
            "compile_s",
            "final_loss",
        ],
        "rows": rows,
        "targets": targets,
        "mixed_precision": mixed,
        "notes": [
            "Data: synthetic MNIST-shaped (seeded), consecutive mini-batches, no shuffle: the same batches for all.",
            "TFLOP/s = 6 * params * batch * steps / median time. vs_best_peer: TFLOP/s / best peer's.",
            "Mixed precision (opt-in, --mixed-precision): a bare scanned step (gradient + momentum update) with params "
            "and x cast to bfloat16 inside the forward, manual backward in bf16, loss/gradient of the loss and update "
            "in float32; compared with the same bare step in float32 (final loss = accuracy cost).",
        ],
    }


def scaling(size: str, repeats: int) -> dict[str, Any]:
    """Step time of fnnet's scanned step (manual and jax.grad) vs batch size and vs width."""
    sw = SWEEPS[size]
    steps = sw["steps"]
    opt = optim.momentum(ETA, ALPHA)
    ce = losses.softmax_cross_entropy
    out: dict[str, Any] = {"steps": steps, "batch": [], "width": []}

    def point(width: int, batch: int) -> dict[str, Any]:
        x, labels = synthetic_mnist(steps * batch, seed=SEED + 3)
        net = model(width)
        _, params0 = net.init(jax.random.PRNGKey(SEED), (-1, 784))
        rec = {"width": width, "batch": batch}
        xs, ts = x.reshape(steps, batch, 784), labels.reshape(steps, batch)
        rows = run_all(
            [
                (lambda g=g: step_scan_runner(g, net, ce, opt, xs, ts, params0, grad=g))
                for g in ("manual", "autodiff")
            ],
            repeats,
        )
        for grad, row in zip(("manual", "autodiff"), rows):
            rec[f"{grad}_step_s"] = row["median_s"] / steps if row["status"] == "ok" else None
        return rec

    base_width = SIZES[size]["width"]
    for b in sw["batches"]:
        out["batch"].append(point(base_width, b))
    sweep_batch = 128 if size != "tiny" else 8
    for w in sw["widths"]:
        out["width"].append(point(w, sweep_batch))
    out["batch_width"] = base_width
    out["width_batch"] = sweep_batch
    return out
