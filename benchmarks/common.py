"""Shared pieces of the benchmark: environment record, synthetic data, timing, MLP helpers.

Every implementation of a workload is a :class:`Runner`: ``reset()`` (untimed) puts it back at the
shared initial parameters, ``run()`` (timed) does one unit of work -- an epoch, N steps, N
iterations -- and blocks until the result is ready, ``canonical(out)`` (untimed) returns the final
parameters as a list of ``(W (in, out), b (out,))`` NumPy pairs so one NumPy evaluator can print the
final loss of every implementation: equal work is visible as equal losses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import gc
import importlib
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# --------------------------------------------------------------------------------------------
# Environment


def versions() -> dict[str, str | None]:
    """Installed versions of the libraries the benchmark may use (None: not installed).
    Read from package metadata: nothing is imported."""
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("jax", "jaxlib", "optax", "numpy", "flax", "equinox", "torch", "fnnet"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def device_info() -> dict[str, Any]:
    import jax

    devs = jax.devices()
    d = devs[0]
    info = {
        "platform": d.platform,
        "device_kind": getattr(d, "device_kind", "unknown"),
        "device_count": len(devs),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
    }
    if "torch" in sys.modules:  # only if a torch peer ran (importing torch takes seconds)
        info["torch_device"] = torch_device()
        info["torch_threads"] = sys.modules["torch"].get_num_threads()
    return info


def torch_device() -> str:
    """'cuda' when JAX runs on a GPU and torch sees one, else 'cpu' (the same device for both)."""
    import jax
    import torch

    if jax.default_backend() == "gpu" and torch.cuda.is_available():
        return "cuda"
    return "cpu"


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# Peers: optional at runtime


class Skip(Exception):
    """An implementation that cannot run here (a peer library not installed, ...)."""


def need(module: str) -> Any:
    """Import an optional peer or raise :class:`Skip` naming it and how to install it."""
    try:
        return importlib.import_module(module)
    except Exception as err:  # noqa: BLE001
        hint = {
            "torch": "pip install torch (CPU wheel)",
            "flax": "pip install flax",
            "equinox": "pip install equinox",
        }
        raise Skip(
            f"{module} not importable ({type(err).__name__}: {err}); {hint.get(module, 'pip install ' + module)}"
        ) from None


# --------------------------------------------------------------------------------------------
# Data: seeded, synthetic, shaped and typed like MNIST (no download)

_MNIST_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def synthetic_mnist(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``x: (n, 784) float32`` in [0, 1], ``labels: (n,) int32`` in 0..9, seeded.

    Each class has a sparse random 28x28 "prototype"; an example is 0.6 x its class prototype +
    0.4 x another class's, with random intensity, pixel noise and sparse background specks,
    clipped to [0, 1] (most pixels zero, as MNIST). Learnable but not trivially, so the printed
    losses fall; it is NOT MNIST and the losses are not comparable with Nielsen's book.
    """
    key = (n, seed)
    if key not in _MNIST_CACHE:
        rng = np.random.default_rng(seed)
        protos = (rng.random((10, 784), dtype=np.float32) < 0.2) * rng.random(
            (10, 784), dtype=np.float32
        )
        labels = rng.integers(0, 10, n).astype(np.int32)
        other = (labels + rng.integers(1, 10, n)) % 10
        x = (0.6 * protos[labels] + 0.4 * protos[other]) * (
            0.5 + rng.random((n, 1), dtype=np.float32)
        )
        x += 0.2 * rng.standard_normal((n, 784), dtype=np.float32) * (x > 0)
        x += (rng.random((n, 784), dtype=np.float32) < 0.05) * 0.5
        np.clip(x, 0.0, 1.0, out=x)
        _MNIST_CACHE[key] = (x.astype(np.float32), labels)
    return _MNIST_CACHE[key]


def one_hot(labels: np.ndarray, k: int = 10) -> np.ndarray:
    return np.eye(k, dtype=np.float32)[labels]


def digits_full() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 scikit-learn 8x8 digits: ``x (1797, 64) float32`` = counts / 16, ``y int32``."""
    from sklearn.datasets import load_digits

    b = load_digits()
    return (np.asarray(b.data, np.float32) / 16.0), np.asarray(b.target, np.int32)


def jax_permutation(key_seed: int, n: int) -> np.ndarray:
    """The order fnnet's first epoch visits the patterns in, for ``fit(key=key_seed)``.

    fnnet: ``init_state`` splits the key into (params key, data key); each epoch splits the data
    key and permutes with the second half. Peers index their data with this order, so every
    implementation sees the same mini-batches.
    """
    import jax

    _, k_data = jax.random.split(jax.random.PRNGKey(key_seed))
    _, k_perm = jax.random.split(k_data)
    return np.asarray(jax.random.permutation(k_perm, n))


# --------------------------------------------------------------------------------------------
# A multi-layer perceptron in NumPy (the common evaluator) and parameter layouts

Canonical = list[tuple[np.ndarray, np.ndarray]]  # [(W (in, out), b (out,)), ...]


def _act_np(name: str | None, z: np.ndarray) -> np.ndarray:
    if name is None:
        return z
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    raise ValueError(name)


def mlp_np(params: Canonical, x: np.ndarray, act: str, out_act: str | None) -> np.ndarray:
    a = np.asarray(x, np.float64)
    for i, (W, b) in enumerate(params):
        a = a @ np.asarray(W, np.float64) + np.asarray(b, np.float64)
        a = _act_np(act if i < len(params) - 1 else out_act, a)
    return a


def loss_np(kind: str, y: np.ndarray, labels: np.ndarray) -> float:
    """float64 reference loss: 'quadratic' (Nielsen, one-hot targets) or 'softmax_ce'."""
    n = y.shape[0]
    if kind == "quadratic":
        return float(np.sum((y - one_hot(labels, y.shape[1])) ** 2) / (2 * n))
    if kind == "softmax_ce":
        z = y - y.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-np.mean(logp[np.arange(n), labels]))
    raise ValueError(kind)


def canonical_from_fnnet(params: Any) -> Canonical:
    """fnnet ``serial`` params of Dense / activation layers -> [(W, b), ...] (activations skipped)."""
    return [
        (np.asarray(p["W"], np.float32), np.asarray(p["b"], np.float32))
        for p in params
        if isinstance(p, dict)
    ]


def fnnet_from_canonical(canonical: Canonical, template: Any) -> Any:
    """Put canonical (W, b) pairs back into an fnnet params tuple of the same structure."""
    import jax.numpy as jnp

    it = iter(canonical)
    out = []
    for p in template:
        if isinstance(p, dict):
            W, b = next(it)
            out.append({"W": jnp.asarray(W), "b": jnp.asarray(b)})
        else:
            out.append(p)
    return tuple(out)


def param_count(sizes: Sequence[int]) -> int:
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


# --------------------------------------------------------------------------------------------
# Compile-time accounting through jax.monitoring (trace + lower + backend compile)

_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


@contextlib.contextmanager
def compile_timer():
    """``with compile_timer() as c: ...`` -> ``c["seconds"]``, ``c["compiles"]`` inside the block."""
    import jax

    acc = {"seconds": 0.0, "compiles": 0, "names": []}

    def listener(event: str, duration: float, **kwargs: Any) -> None:
        if event in _COMPILE_EVENTS:
            acc["seconds"] += duration
            if event.endswith("backend_compile_duration"):
                acc["compiles"] += 1
                acc["names"].append(kwargs.get("fun_name"))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield acc
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


# --------------------------------------------------------------------------------------------
# Timing


@dataclasses.dataclass
class Runner:
    """One implementation of one workload (see the module docstring).

    ``seconds(out, wall)``: the time to report for a run, by default its wall time; fnnet's
    ``fit`` compiles inside every call and reports that separately, so its runner subtracts it.
    ``compile_s(out)``: compile time of a run when the implementation reports it itself.
    """

    name: str
    run: Callable[[], Any]
    reset: Callable[[], None] = lambda: None
    canonical: Callable[[Any], Canonical] | None = None
    seconds: Callable[[Any, float], float] | None = None
    compile_s: Callable[[Any], float] | None = None
    note: str = ""
    group: str = ""  # "fnnet" or "peer"
    hlo: Callable[[], str] | None = None  # compiled HLO text of the timed program (JAX only)
    loss_of: Callable[[Any], float] | None = None  # final loss from a run's output, if no evaluator
    extra: Callable[[Any], dict[str, Any]] | None = (
        None  # more fields for the row, from the last run
    )


SETTINGS = {
    "warmup": True
}  # the smoke test (--tiny) turns the warm-up run off: its times mean nothing


def _timed(runner: Runner) -> tuple[float, Any]:
    runner.reset()
    gc.collect()
    gc.disable()  # as timeit does: no collector pauses inside a timed run
    try:
        t0 = time.perf_counter()
        out = runner.run()
        wall = time.perf_counter() - t0
    finally:
        gc.enable()
    return (runner.seconds(out, wall) if runner.seconds else wall), out


def _fail(name: str, err: BaseException) -> dict[str, Any]:
    if isinstance(err, Skip):
        print(f"    {name}: skipped ({err})", file=sys.stderr, flush=True)
        return {"impl": name, "status": "skipped", "reason": str(err)}
    print(traceback.format_exc(limit=4), file=sys.stderr)
    return {"impl": name, "status": "error", "reason": f"{type(err).__name__}: {err}"[:500]}


def run_all(
    makers: Sequence[Callable[[], Runner]],
    repeats: int,
    evaluate: Callable[[Canonical], float] | None = None,
    keep_hlo: bool = False,
) -> list[dict[str, Any]]:
    """Build every implementation, warm each up once (compiles; excluded), then time them
    **interleaved**: repeat r runs every implementation once, in an order rotated by r, so a
    change in machine load hits all of them alike and the ratios of one run stay meaningful.
    Median and min over the ``repeats`` timed runs. Never raises: a Skip or an error becomes
    that implementation's row.

    compile_s: what the implementation reports (fit), else the warm-up's excess over the median
    run (for an eager peer that is ~0). Without the warm-up (``SETTINGS["warmup"] = False``, tiny
    size only) the first timed run includes compilation and compile_s is None.
    """
    rows: list[dict[str, Any] | None] = [None] * len(makers)
    live: list[tuple[int, Runner]] = []
    first: dict[int, float | None] = {}
    for i, make in enumerate(makers):
        name = getattr(make, "impl_name", "impl")
        try:
            runner = make()
            name = runner.name
            first[i] = None
            if SETTINGS["warmup"]:
                t0 = time.perf_counter()
                runner.reset()
                runner.run()
                first[i] = time.perf_counter() - t0
            live.append((i, runner))
        except Exception as err:  # noqa: BLE001 -- report and carry on with the others
            rows[i] = _fail(name, err)
    times: dict[int, list[float]] = {i: [] for i, _ in live}
    outs: dict[int, Any] = {}
    for r in range(max(1, repeats)):
        k = r % len(live) if live else 0
        for i, runner in live[k:] + live[:k]:
            if i in outs and outs[i] is _FAILED:
                continue
            try:
                t, outs[i] = _timed(runner)
                times[i].append(t)
            except Exception as err:  # noqa: BLE001
                rows[i], outs[i] = _fail(runner.name, err), _FAILED
    for i, runner in live:
        if outs.get(i) is _FAILED:
            continue
        try:
            rows[i] = _row(runner, times[i], first[i], outs[i], evaluate, keep_hlo)
        except Exception as err:  # noqa: BLE001
            rows[i] = _fail(runner.name, err)
    return rows  # type: ignore[return-value]


_FAILED = object()


def _row(
    runner: Runner, times: list[float], first_wall: float | None, out: Any, evaluate, keep_hlo: bool
) -> dict[str, Any]:
    med = statistics.median(times)
    if runner.compile_s is not None:
        compile_s = runner.compile_s(out)
    else:
        compile_s = None if first_wall is None else max(0.0, first_wall - med)
    row = {
        "impl": runner.name,
        "group": runner.group,
        "status": "ok",
        "note": runner.note,
        "median_s": med,
        "min_s": min(times),
        "times_s": times,
        "compile_s": compile_s,
        "first_run_s": first_wall,
    }
    if runner.extra is not None:
        row.update(runner.extra(out))
    if evaluate is not None and runner.canonical is not None:
        row["final_loss"] = evaluate(runner.canonical(out))
    elif runner.loss_of is not None:
        row["final_loss"] = float(runner.loss_of(out))
    if keep_hlo and runner.hlo is not None:
        row["_hlo"] = runner.hlo()
    loss = f", final loss {row['final_loss']:.6g}" if "final_loss" in row else ""
    print(
        f"    {runner.name}: median {fmt_s(med)}, min {fmt_s(min(times))}, compile {fmt_s(compile_s)}{loss}",
        file=sys.stderr,
        flush=True,
    )
    return row


def run_impl(
    make: Callable[[], Runner],
    repeats: int,
    evaluate: Callable[[Canonical], float] | None = None,
    keep_hlo: bool = False,
) -> dict[str, Any]:
    """One implementation alone (see :func:`run_all`)."""
    return run_all([make], repeats, evaluate, keep_hlo)[0]


def named(name: str):
    """Decorator: the row name of an implementation factory, used if it fails before building."""

    def deco(fn):
        fn.impl_name = name
        return fn

    return deco


def block(tree: Any) -> Any:
    import jax

    return jax.block_until_ready(tree)


def fmt_s(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def ok_row(rows: list[dict[str, Any]], match: Callable[[str], bool]) -> dict[str, Any] | None:
    """The first successful row whose implementation name satisfies ``match``."""
    return next((r for r in rows if match(r["impl"]) and r["status"] == "ok"), None)


def default_metrics_ratio(rows: list[dict[str, Any]], scan: dict[str, Any]) -> str:
    """'; default step metrics: R x' -- fit with its default per-step metrics against the scan."""
    row = ok_row(rows, lambda impl: impl == "fnnet fit, manual, default step metrics")
    return f"; with default step metrics {row['median_s'] / scan['median_s']:.2f}x" if row else ""


def fit_vs_scan(
    rows: list[dict[str, Any]], workload: str, rate_key: str, work: float, detail: Callable[[dict, dict], str]
) -> list[dict[str, Any]]:
    """Fill each row's ``rate_key`` (work / median_s) and ``rel_time`` (vs fnnet fit, manual) and
    return the target "fnnet fit time <= raw jax+optax lax.scan time" for ``workload``."""
    ref = ok_row(rows, lambda impl: impl == "fnnet fit, manual backprop")
    for r in rows:
        if r["status"] == "ok":
            r[rate_key] = work / r["median_s"]
            r["rel_time"] = r["median_s"] / ref["median_s"] if ref else None
    scan = ok_row(rows, lambda impl: impl.startswith("raw jax+optax, lax.scan"))
    if not (ref and scan):
        return []
    ratio = ref["median_s"] / scan["median_s"]
    return [
        {
            "id": workload,
            "target": "fnnet fit time <= raw jax+optax lax.scan time (ratio <= 1.0)",
            "value": ratio,
            "threshold": 1.0,
            "met": ratio <= 1.0,
            "detail": detail(ref, scan),
        }
    ]
