"""Results: one JSON document, a markdown report made from it, and a PNG plot made from it
(plots never run anything)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import fmt_s

HEADERS = {
    "median_s": "median",
    "min_s": "min",
    "compile_s": "compile",
    "step_s": "step (median)",
    "min_step_s": "step (min)",
    "examples_per_s": "examples/s",
    "iters_per_s": "iterations/s",
    "rel_time": "time vs fnnet fit",
    "tflops": "TFLOP/s",
    "vs_best_peer": "vs best peer",
    "per_member_s": "per member",
    "sequential_s": "sequential (extrap.)",
    "speedup_vs_sequential": "vmap speed-up",
    "manual_over_autodiff": "manual / jax.grad",
    "kernels": "kernels/step",
    "final_loss": "final loss",
}


def fmt(key: str, v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if key in ("examples_per_s", "iters_per_s"):
        return f"{v:,.0f}"
    if key.endswith("_s"):
        return fmt_s(v)
    if key in ("rel_time", "vs_best_peer", "speedup_vs_sequential", "manual_over_autodiff"):
        return f"{v:.2f}x"
    if key == "tflops":
        return f"{v:.4f}"
    if key == "final_loss":
        return f"{v:.6g}"
    return str(v)


def _clean(obj: Any) -> Any:
    """JSON-safe: drop private keys, numpy scalars to Python, NaN to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            obj = obj.item()
        except (ValueError, AttributeError):
            return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def paired_ratio(num: list[float], den: list[float], scale: float = 1.0) -> dict[str, Any] | None:
    """Median over the repeats of ``scale * num[r] / den[r]`` with a 95 % bootstrap interval.

    run_all times the implementations interleaved, so repeat r of both rows saw the same machine
    load: their per-repeat ratio cancels load drift that the ratio of medians keeps."""
    if not num or len(num) != len(den):
        return None
    ratios = scale * np.asarray(num, dtype=float) / np.asarray(den, dtype=float)
    draws = np.random.default_rng(0).choice(ratios, size=(2000, ratios.size), replace=True)
    lo, hi = np.percentile(np.median(draws, axis=1), [2.5, 97.5])
    return {"median": float(np.median(ratios)), "ci95": [float(lo), float(hi)], "n": int(ratios.size)}


def add_min_ratios(doc: dict[str, Any]) -> dict[str, Any]:
    """Each target's value recomputed from the *min* times (``value_min``) and from the paired
    per-repeat times (``value_paired``, with its 95 % interval), beside the medians' ``value``:
    with noisy shared machines they bracket the truth."""
    ws = doc["workloads"]

    def rows(wid):
        return {r["impl"]: r for r in ws.get(wid, {}).get("rows", []) if r.get("status") == "ok"}

    for t in (t for w in ws.values() for t in w.get("targets", [])):
        num = den = None  # value = scale * num time / den time
        scale = 1.0
        wid = t["id"].split()[0]
        r = rows(wid)
        if wid in ("W1", "W3"):
            num, den = r.get("fnnet fit, manual backprop"), r.get("raw jax+optax, lax.scan")
        elif wid == "W2":
            man = r.get("fnnet fit, manual backprop")
            peers = [x for x in r.values() if x.get("group") == "peer"]
            if man and peers:
                num, den = min(peers, key=lambda p: p["median_s"]), man
        elif wid == "W4":
            ks = {x["k"]: x for x in ws["W4"]["rows"] if x.get("status") == "ok"}
            if 1 in ks and 1024 in ks:
                num, den, scale = ks[1], ks[1024], 1024.0
        elif wid == "W5":
            case = t["id"][3:]
            pair = [x for x in r.values() if x.get("case", "").startswith(case)]
            num = next((x for x in pair if x["impl"].endswith("manual backprop")), None)
            den = next((x for x in pair if x["impl"].endswith("jax.grad")), None)
        if num and den:
            t["value_min"] = scale * num["min_s"] / den["min_s"]
            t["value_paired"] = paired_ratio(num.get("times_s", []), den.get("times_s", []), scale)
        else:
            t["value_min"] = None
    return doc


def to_markdown(doc: dict[str, Any]) -> str:
    m = doc["meta"]
    dev = m["device"]
    lines = [
        f"# fnnet benchmarks -- {m['mode']} size",
        "",
        f"Command: `{m['command']}`  ",
        f"Date: {m['date']}; device: {dev['platform']} ({dev['device_kind']}) x{dev['device_count']}; "
        f"CPU count: {dev['cpu_count']}; repeats: {m['repeats']} (after one warm-up run).  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v) + ".  ",
        "Times: median and min over the repeats; compile: compile time reported apart "
        "(fnnet fit / train_population: measured by them / by jax.monitoring; others: warm-up run minus median).",
        "",
    ]
    targets = [t for w in doc["workloads"].values() for t in w.get("targets", [])]
    if targets:
        lines += [
            "## Targets",
            "",
            "value: the ratio from the median times (decides 'met'); value (min): from the min times; "
            "paired: the median of the per-repeat ratios (the runs are interleaved, so each repeat "
            "of both saw the same load) with its 95 % bootstrap interval.",
            "",
            "| id | target | value | value (min) | paired [95 % CI] | threshold | met | detail |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for t in targets:
            val = "-" if t["value"] is None else f"{t['value']:.2f}"
            vmin = "-" if t.get("value_min") is None else f"{t['value_min']:.2f}"
            pr = t.get("value_paired")
            paired = "-" if not pr else f"{pr['median']:.2f} [{pr['ci95'][0]:.2f}, {pr['ci95'][1]:.2f}]"
            met = {True: "**yes**", False: "no", None: "n/a"}[t["met"]]
            lines.append(
                f"| {t['id']} | {t['target']} | {val} | {vmin} | {paired} | {t['threshold']} | {met} "
                f"| {t['detail']} |"
            )
        lines.append("")
    for w in doc["workloads"].values():
        lines += [f"## {w['title']}", ""]
        cols = w["columns"]
        lines.append(
            "| implementation | " + " | ".join(HEADERS.get(c, c) for c in cols) + " | note |"
        )
        lines.append("|---" * (len(cols) + 2) + "|")
        for r in w["rows"]:
            if r.get("status") != "ok":
                lines.append(
                    f"| {r['impl']} | "
                    + " | ".join("-" for _ in cols)
                    + f" | {r.get('status')}: {r.get('reason', '')} |"
                )
                continue
            lines.append(
                f"| {r['impl']} | "
                + " | ".join(fmt(c, r.get(c)) for c in cols)
                + f" | {r.get('note', '')} |"
            )
        lines.append("")
        if "init_loss" in w.get("config", {}):
            lines.append(
                f"Initial loss (same params for all): {w['config']['init_loss']:.6g}; {w['config'].get('eval', '')}."
            )
            lines.append("")
        mp = w.get("mixed_precision")
        if mp:
            lines.append(
                f"Mixed precision (bf16 matmuls, f32 params/loss/update): {mp['speedup_bf16_vs_f32']:.2f}x the speed of the "
                f"same step in f32; loss after {mp['steps']} steps {mp['loss_bf16']:.6g} vs {mp['loss_f32']:.6g} in f32 "
                f"({100 * mp['loss_rel_diff']:+.3f}%)."
            )
            lines.append("")
        for note in w.get("notes", []):
            lines.append(f"- {note}")
        lines.append("")
    lin = (doc.get("linearity") or {}).get("points")
    if lin:
        lines += [
            "## Linearity: fnnet fit epoch time vs training-set size (W1 network, batch 10)",
            "",
            "| n | epoch (median) | epoch (min) | per example |",
            "|---|---|---|---|",
        ]
        for p in lin:
            lines.append(
                f"| {p['n']:,} | {fmt_s(p['epoch_s'])} | {fmt_s(p['min_s'])} | {p['us_per_example']:.2f} us |"
            )
        lines.append("")
    sc = doc.get("scaling")
    if sc:
        lines += [
            "## Scaling (fnnet step, manual / jax.grad)",
            "",
            "| sweep | width | batch | manual step | jax.grad step |",
            "|---|---|---|---|---|",
        ]
        for kind in ("batch", "width"):
            for p in sc.get(kind, []):
                lines.append(
                    f"| {kind} | {p['width']} | {p['batch']} | {fmt_s(p['manual_step_s'])} | {fmt_s(p['autodiff_step_s'])} |"
                )
        lines.append("")
    return "\n".join(lines)


def plot(doc: dict[str, Any], path: Path) -> bool:
    """Step time vs batch size, vs width (fnnet step) and epoch time vs K (population)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # noqa: BLE001
        return False
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.4))
    sc = doc.get("scaling") or {}
    for ax, kind, xlabel in ((axes[0], "batch", "batch size"), (axes[1], "width", "hidden width")):
        pts = sc.get(kind) or []
        if not pts:
            ax.text(0.5, 0.5, "not run (W2 scaling)", ha="center", transform=ax.transAxes)
        for grad, style in (("manual", "o-"), ("autodiff", "s--")):
            xs = [p[kind] for p in pts if p.get(f"{grad}_step_s")]
            ys = [p[f"{grad}_step_s"] * 1e3 for p in pts if p.get(f"{grad}_step_s")]
            if xs:
                ax.plot(xs, ys, style, label="manual backprop" if grad == "manual" else "jax.grad")
        if pts:
            fixed = (
                f"width {sc.get('batch_width')}"
                if kind == "batch"
                else f"batch {sc.get('width_batch')}"
            )
            ax.set_title(f"fnnet step time vs {xlabel} (784-w-w-10, {fixed})")
            ax.legend()
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("ms per step")
        ax.grid(True, which="both", alpha=0.3)
    ax = axes[2]
    w4 = doc["workloads"].get("W4")
    rows = [r for r in (w4 or {}).get("rows", []) if r.get("status") == "ok"]
    if rows:
        ks = [r["k"] for r in rows]
        ax.plot(ks, [r["median_s"] for r in rows], "o-", label="train_population (vmap)")
        if all("sequential_s" in r for r in rows):
            ax.plot(
                ks,
                [r["sequential_s"] for r in rows],
                "s--",
                label="K sequential runs (extrapolated)",
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.legend()
        ax.set_title("W4: one epoch of K members")
    else:
        ax.text(0.5, 0.5, "not run (W4)", ha="center", transform=ax.transAxes)
    ax.set_xlabel("K (members)")
    ax.set_ylabel("seconds")
    ax.grid(True, which="both", alpha=0.3)
    ax = axes[3]
    lin = (doc.get("linearity") or {}).get("points") or []
    if lin:
        ax.plot(
            [p["n"] for p in lin],
            [p["epoch_s"] for p in lin],
            "o-",
            label="fnnet fit, one epoch (median)",
        )
        per = lin[-1]["epoch_s"] / lin[-1]["n"]
        ax.plot(
            [p["n"] for p in lin],
            [per * p["n"] for p in lin],
            ":",
            color="gray",
            label="linear through largest n",
        )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.legend()
        ax.set_title("W1 network: epoch time vs training-set size")
    else:
        ax.text(0.5, 0.5, "not run (W1 linearity)", ha="center", transform=ax.transAxes)
    ax.set_xlabel("n (examples)")
    ax.set_ylabel("seconds")
    ax.grid(True, which="both", alpha=0.3)
    m = doc["meta"]
    dev = m["device"]
    kind = (
        dev["platform"]
        if dev["device_kind"] == dev["platform"]
        else f"{dev['platform']} {dev['device_kind']}"
    )
    fig.suptitle(
        f"fnnet benchmarks ({m['mode']}), {kind} x{dev['device_count']}, {dev['cpu_count']} CPUs, {m['date']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(doc: dict[str, Any], out_dir: Path, stem: str, make_plot: bool = True) -> dict[str, str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = add_min_ratios(_clean(doc))
    paths = {"json": out_dir / f"{stem}.json", "markdown": out_dir / f"{stem}.md"}
    paths["json"].write_text(json.dumps(doc, indent=1) + "\n")
    paths["markdown"].write_text(to_markdown(doc) + "\n")
    if make_plot:
        png = out_dir / f"{stem}.png"
        if plot(doc, png):
            paths["png"] = png
    return {k: str(v) for k, v in paths.items()}
