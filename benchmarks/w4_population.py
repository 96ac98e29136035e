"""W4 -- populations: K W1-sized networks (784-30-10 sigmoid, quadratic, SGD 3.0, batch 10) trained
at once with ``fnnet.train.train_population`` (vmap) vs K sequential runs.

Per member: one epoch over a small slice of the synthetic MNIST-shaped set (the same slice for
every member; each member has its own init and its own shuffle from its key), so K = 1024 fits in
memory and time. Sequential time for K = K x the measured time of one member (K = 1 program,
compile excluded): extrapolated, and generous to the sequential loop (a loop of K ``fit`` calls
would also compile K times).
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from typing import Any

import jax
import numpy as np

from benchmarks.common import SETTINGS, compile_timer, one_hot, synthetic_mnist
from benchmarks.w1_nielsen import model as w1_model
from fnnet import losses, optim
from fnnet.train import train_population

SIZES = {
    "full": {"ks": [1, 4, 16, 64, 256, 1024], "n_member": 200},
    "quick": {"ks": [1, 32, 1024], "n_member": 100},
    "tiny": {"ks": [1, 4], "n_member": 20},
}
BATCH, ETA, SEED = 10, 3.0, 0


def _call(k: int, x, t) -> tuple[float, float, float]:
    """One train_population call: (run seconds = wall - compile, compile seconds, final loss)."""
    net = w1_model()
    keys = jax.random.split(jax.random.PRNGKey(SEED), k)
    gc.collect()
    gc.disable()
    try:
        with compile_timer() as c:
            t0 = time.perf_counter()
            res = train_population(
                net,
                losses.quadratic,
                lambda: optim.sgd(ETA),
                (x, t),
                keys=keys,
                epochs=1,
                batch_size=BATCH,
            )
            jax.block_until_ready(res.states)
            wall = time.perf_counter() - t0
    finally:
        gc.enable()
    return wall - c["seconds"], c["seconds"], float(np.mean(res.history["loss"][:, -1]))


def _time_populations(ks: list[int], x, t, repeats: int) -> list[dict[str, Any]]:
    """Every K once per round, the order rotated each round (as common.run_all); the first round
    is a warm-up (first-use compiles of eager ops)."""
    warmup = 1 if SETTINGS["warmup"] else 0
    runs: dict[int, list] = {k: [] for k in ks}
    failed: dict[int, str] = {}
    for r in range(repeats + warmup):
        j = r % len(ks)
        for k in ks[j:] + ks[:j]:
            if k in failed:
                continue
            try:
                out = _call(k, x, t)
            except Exception as err:  # noqa: BLE001 -- e.g. out of memory at large K: report and go on
                failed[k] = f"{type(err).__name__}: {err}"[:300]
                continue
            if r >= warmup:
                runs[k].append(out)
    rows = []
    for k in ks:
        if k in failed or not runs[k]:
            rows.append({"k": k, "status": "error", "reason": failed.get(k, "no run")})
            continue
        secs = [o[0] for o in runs[k]]
        rows.append(
            {
                "k": k,
                "status": "ok",
                "median_s": statistics.median(secs),
                "min_s": min(secs),
                "times_s": secs,
                "compile_s": statistics.median(o[1] for o in runs[k]),
                "final_loss": runs[k][-1][2],
            }
        )
        print(
            f"    K={k}: median {rows[-1]['median_s']:.4g} s, compile {rows[-1]['compile_s']:.3g} s",
            file=sys.stderr,
            flush=True,
        )
    return rows


def run(size: str, repeats: int, core: bool = False) -> dict[str, Any]:
    cfg = SIZES[size]
    n = cfg["n_member"]
    x, labels = synthetic_mnist(50_000 if size == "full" else 5_000, seed=SEED)
    x, t = x[:n], one_hot(labels[:n])
    steps = n // BATCH
    ks = cfg["ks"][1:2] if core else cfg["ks"]
    rows = _time_populations(ks, x, t, repeats)
    one = next((r for r in rows if r["k"] == 1 and r["status"] == "ok"), None)
    for r in rows:
        r["impl"] = f"train_population K={r['k']}"
        if r["status"] != "ok":
            continue
        r["per_member_s"] = r["median_s"] / r["k"]
        r["member_epochs_per_s"] = r["k"] / r["median_s"]
        if one:
            r["sequential_s"] = one["median_s"] * r["k"]
            r["speedup_vs_sequential"] = r["sequential_s"] / r["median_s"]
    targets = []
    top = next(
        (
            r
            for r in rows
            if r["k"] == 1024 and r["status"] == "ok" and "speedup_vs_sequential" in r
        ),
        None,
    )
    if top:
        targets.append(
            {
                "id": "W4",
                "target": "K=1024 population throughput >= 5x K sequential runs",
                "value": top["speedup_vs_sequential"],
                "threshold": 5.0,
                "met": top["speedup_vs_sequential"] >= 5.0,
                "detail": f"vmap {top['median_s']:.3f} s vs sequential 1024 x {one['median_s'] * 1e3:.2f} ms = {top['sequential_s']:.2f} s",
            }
        )
    else:
        targets.append(
            {
                "id": "W4",
                "target": "K=1024 population throughput >= 5x K sequential runs",
                "value": None,
                "threshold": 5.0,
                "met": None,
                "detail": "K=1024 not run at this size (use the quick or full size)",
            }
        )
    return {
        "id": "W4",
        "title": f"W4 population of K 784-30-10 nets (W1 setup), {n} examples per member, 1 epoch ({steps} steps)",
        "config": {"ks": cfg["ks"], "n_member": n, "batch": BATCH, "eta": ETA, "steps": steps},
        "unit": "one epoch of every member",
        "columns": [
            "median_s",
            "min_s",
            "compile_s",
            "per_member_s",
            "sequential_s",
            "speedup_vs_sequential",
            "final_loss",
        ],
        "rows": rows,
        "targets": targets,
        "notes": [
            f"Each member: the W1 network and SGD, one epoch over the same {n} synthetic examples (own init, own shuffle).",
            "train_population compiles inside each call; time = wall - (trace + lower + compile) measured with "
            "jax.monitoring events; compile_s is reported separately. train_population also evaluates each "
            "member's training loss after the epoch (its default), in both the vmapped and the K=1 program.",
            "sequential_s = K x median time of K=1 (extrapolated from measured K=1 runs, compile excluded).",
            "final_loss: mean over members of the epoch's mean mini-batch loss.",
        ],
    }
