"""``python -m benchmarks``: run the workloads, print the markdown table, write JSON / markdown / PNG."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

WORKLOADS = ("w1", "w2", "w3", "w4", "w5")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="smaller sizes for development (minutes)"
    )
    size.add_argument("--tiny", action="store_true", help="toy sizes for the smoke test (seconds)")
    p.add_argument(
        "--only", default="", help="comma-separated workloads, e.g. w1,w3 (default: all)"
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repeats after a warm-up (default 5; tiny: 1)",
    )
    p.add_argument("--out", default=str(Path(__file__).parent / "results"), help="output folder")
    p.add_argument(
        "--peers",
        default="",
        help="comma-separated peers to run (jax_scan,jax_loop,flax,equinox,torch,numpy); default all",
    )
    p.add_argument(
        "--mixed-precision",
        action="store_true",
        help="W2: add the bf16-matmul fnnet mode and its accuracy cost",
    )
    p.add_argument(
        "--no-scaling",
        action="store_true",
        help="skip the sweeps of the plot (W1: epoch time vs n; W2: batch, width)",
    )
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.add_argument(
        "--core",
        action="store_true",
        help="fnnet's main row per workload only, plus --peers (smoke test)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    repeats = args.repeats if args.repeats is not None else (1 if mode == "tiny" else 5)
    only = [w.strip().lower() for w in args.only.split(",") if w.strip()] or list(WORKLOADS)
    bad = [w for w in only if w not in WORKLOADS]
    if bad:
        print(f"unknown workload(s) {bad}; choose from {', '.join(WORKLOADS)}", file=sys.stderr)
        return 2
    peers = {x.strip() for x in args.peers.split(",") if x.strip()} or None

    from benchmarks import report, w1_nielsen, w2_throughput, w3_rprop, w4_population, w5_backprop
    from benchmarks.common import SETTINGS, device_info, now_iso, versions

    SETTINGS["warmup"] = mode != "tiny"

    doc = {
        "meta": {
            "command": "python -m benchmarks "
            + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
            "mode": mode,
            "repeats": repeats,
            "date": now_iso(),
            "versions": versions(),
            "workloads_run": only,
            "data": "W1/W2/W4/W5: synthetic MNIST-shaped arrays (seeded, no download); W3: scikit-learn's bundled digits.",
        },
        "workloads": {},
    }
    t_start = time.perf_counter()
    for w in only:
        print(f"== {w.upper()} ({mode}) ==", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        if w == "w1":
            res = w1_nielsen.run(mode, repeats, peers, core=args.core)
            if not args.no_scaling:
                print("== W1 linearity sweep (fit epoch time vs n) ==", file=sys.stderr, flush=True)
                doc["linearity"] = w1_nielsen.linearity(mode, repeats)
        elif w == "w2":
            res = w2_throughput.run(
                mode, repeats, peers, mixed_precision=args.mixed_precision, core=args.core
            )
            if not args.no_scaling:
                print("== W2 scaling sweeps ==", file=sys.stderr, flush=True)
                doc["scaling"] = w2_throughput.scaling(mode, repeats)
        elif w == "w3":
            res = w3_rprop.run(mode, repeats, peers, core=args.core)
        elif w == "w4":
            res = w4_population.run(mode, repeats, core=args.core)
        else:
            res = w5_backprop.run(mode, repeats, core=args.core)
        res["seconds"] = time.perf_counter() - t0
        doc["workloads"][res["id"]] = res
    doc["meta"]["total_seconds"] = time.perf_counter() - t_start
    dev = doc["meta"]["device"] = device_info()
    stem = f"{dev['platform']}-{mode}"
    paths = report.write(doc, Path(args.out), stem, make_plot=not args.no_plot)
    print(report.to_markdown(report.add_min_ratios(report._clean(doc))))
    print("wrote " + ", ".join(paths.values()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
