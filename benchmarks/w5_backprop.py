"""W5 -- manual backprop vs jax.grad: the same ``fnnet.train.make_step`` (update, NaN guard,
metrics) with ``grad="manual"`` and ``grad="autodiff"``, scanned over the same batches, on W1's
MLP (batch 10), W2's MLP (batch 512) and a LeNet-style CNN (batch 64). The compiled HLO of both
steps is profiled (kernels per step, by op) so a slower manual step can be traced to its layer."""

from __future__ import annotations

from typing import Any

import jax

from benchmarks import hlo
from benchmarks.common import one_hot, run_all, synthetic_mnist
from benchmarks.fnnet_runners import step_scan_runner
from benchmarks.w1_nielsen import model as w1_model
from benchmarks.w2_throughput import model as w2_model
from fnnet import layers as L
from fnnet import losses, optim

SIZES = {
    "full": {"w1_steps": 1000, "w2_steps": 10, "cnn_steps": 50, "w2_width": 1024, "cnn_batch": 64},
    "quick": {"w1_steps": 200, "w2_steps": 3, "cnn_steps": 10, "w2_width": 1024, "cnn_batch": 64},
    "tiny": {"w1_steps": 5, "w2_steps": 1, "cnn_steps": 1, "w2_width": 32, "cnn_batch": 8},
}


def cnn():
    """conv 5x5x6 (SAME) -> relu -> maxpool 2 -> conv 5x5x16 -> relu -> maxpool 2 -> 120 -> 84 -> 10."""
    return L.serial(
        L.Conv2D(6, 5, padding="SAME"),
        L.ReLU(),
        L.MaxPool2D(2),
        L.Conv2D(16, 5),
        L.ReLU(),
        L.MaxPool2D(2),
        L.Flatten(),
        L.Dense(120),
        L.ReLU(),
        L.Dense(84),
        L.ReLU(),
        L.Dense(10),
    )


def _cases(size: str):
    s = SIZES[size]
    x, labels = synthetic_mnist(
        max(s["w1_steps"] * 10, s["w2_steps"] * 512, s["cnn_steps"] * s["cnn_batch"]), seed=5
    )
    yield (
        "W1 MLP 784-30-10, batch 10",
        w1_model(),
        losses.quadratic,
        optim.sgd(3.0),
        x[: s["w1_steps"] * 10].reshape(s["w1_steps"], 10, 784),
        one_hot(labels[: s["w1_steps"] * 10]).reshape(s["w1_steps"], 10, 10),
        (-1, 784),
        s["w1_steps"],
    )
    w = s["w2_width"]
    b = 512 if size != "tiny" else 16
    yield (
        f"W2 MLP 784-{w}-{w}-10, batch {b}",
        w2_model(w),
        losses.softmax_cross_entropy,
        optim.momentum(0.01, 0.9),
        x[: s["w2_steps"] * b].reshape(s["w2_steps"], b, 784),
        labels[: s["w2_steps"] * b].reshape(s["w2_steps"], b),
        (-1, 784),
        s["w2_steps"],
    )
    cb = s["cnn_batch"]
    yield (
        f"CNN LeNet 28x28x1, batch {cb}",
        cnn(),
        losses.softmax_cross_entropy,
        optim.sgd(0.05),
        x[: s["cnn_steps"] * cb].reshape(s["cnn_steps"], cb, 28, 28, 1),
        labels[: s["cnn_steps"] * cb].reshape(s["cnn_steps"], cb),
        (-1, 28, 28, 1),
        s["cnn_steps"],
    )


def _maker(name, net, loss, opt, xs, ts, params0, grad):
    return lambda: step_scan_runner(name, net, loss, opt, xs, ts, params0, grad=grad)


def run(size: str, repeats: int, core: bool = False) -> dict[str, Any]:
    rows, targets, profiles = [], [], {}
    cases = list(_cases(size))
    for case, net, loss, opt, xs, ts, in_shape, steps in cases[:1] if core else cases:
        _, params0 = net.init(jax.random.PRNGKey(0), in_shape)
        pair = {}
        grads = ("manual", "autodiff")
        labels = {"manual": "manual backprop", "autodiff": "jax.grad"}
        timed = run_all(
            [_maker(f"{case}: {labels[g]}", net, loss, opt, xs, ts, params0, g) for g in grads],
            repeats,
            keep_hlo=True,
        )
        for grad, row in zip(grads, timed):
            text = row.pop("_hlo", None)
            if row["status"] == "ok":
                row["step_s"] = row["median_s"] / steps
                row["min_step_s"] = row["min_s"] / steps
                if text:
                    prof = hlo.step_profile(text, steps)
                    row["kernels"] = prof["kernels"]
                    profiles[row["impl"]] = prof
            row["case"] = case
            pair[grad] = row
            rows.append(row)
        if pair["manual"]["status"] == "ok" and pair["autodiff"]["status"] == "ok":
            ratio = pair["manual"]["median_s"] / pair["autodiff"]["median_s"]
            pair["manual"]["manual_over_autodiff"] = ratio
            pair["autodiff"]["manual_over_autodiff"] = ratio
            targets.append(
                {
                    "id": f"W5 {case.split(',')[0]}",
                    "target": "manual step time <= 1.0x jax.grad step time",
                    "value": ratio,
                    "threshold": 1.0,
                    "met": ratio <= 1.0,
                    "detail": f"{pair['manual']['step_s'] * 1e3:.3f} ms vs {pair['autodiff']['step_s'] * 1e3:.3f} ms per step; "
                    f"kernels/step {pair['manual'].get('kernels')} vs {pair['autodiff'].get('kernels')}",
                }
            )
    return {
        "id": "W5",
        "title": "W5 manual backprop vs jax.grad: time per training step (make_step scanned, jit once)",
        "config": {k: v for k, v in SIZES[size].items()},
        "unit": "steps (see case)",
        "columns": [
            "step_s",
            "min_step_s",
            "compile_s",
            "kernels",
            "manual_over_autodiff",
            "final_loss",
        ],
        "rows": rows,
        "targets": targets,
        "hlo_profiles": profiles,
        "notes": [
            "Same make_step (update rule, NaN guard, metrics), same params and batches; only grad= differs.",
            "kernels: top-level instructions (fusions, dots, convolutions, ...) in the compiled scan body, "
            "i.e. kernel launches per step (benchmarks/hlo.py). final_loss: last batch's loss (before its update).",
            "step_s / min_step_s: median / min over repeats of the scan time, divided by its number of steps.",
        ],
    }
