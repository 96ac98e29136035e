"""The classic small problems of the backpropagation literature, generated exactly.

- ``xor``: the four XOR patterns (Rumelhart, Hinton & Williams 1986).
- ``parity``: all ``2**n`` patterns of n-bit parity (Rumelhart et al. 1986; Minsky & Papert).
- ``encoder``: the n-m-n encoder, n one-hot patterns mapped to themselves through m hidden units
  (Ackley, Hinton & Sejnowski 1985; Fahlman 1988 for Quickprop's benchmarks).
- ``two_spirals``: Lang & Witbrock's (1988) intertwined spirals, 97 points each.
- ``regression_1d``: 1-D targets for universal approximation (Nielsen, ch. 4).

XOR, parity and encoder are complete truth tables: every pattern is training data and the
validation and test splits are *empty* (0 rows, with the right trailing shapes), because the task
is to learn the table, not to generalise from it. Evaluate them on the training split. The same
holds for ``two_spirals`` (the benchmark trains on all 194 points). Only ``regression_1d`` has
validation and test splits. Everything is deterministic; randomness comes from
``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np

from fnnet.data.checks import check_choice, check_int
from fnnet.data.dataset import Dataset
from fnnet.errors import DataError

ENCODINGS: tuple[str, ...] = ("binary", "bipolar")


def _encode(bits: np.ndarray, encoding: str) -> np.ndarray:
    """0/1 bits -> float32 in {0, 1} ("binary") or {-1, +1} ("bipolar", for tanh units)."""
    bits = bits.astype(np.float32)
    return bits if encoding == "binary" else 2.0 * bits - 1.0


def _table(name: str, x: np.ndarray, y: np.ndarray, metadata: dict) -> Dataset:
    """A truth-table dataset: all patterns train, empty val/test, float targets."""
    return Dataset(
        name=name,
        x_train=x,
        y_train=y,
        x_val=x[:0].copy(),
        y_val=y[:0].copy(),
        x_test=x[:0].copy(),
        y_test=y[:0].copy(),
        num_classes=None,
        input_shape=x.shape[1:],
        task="regression",
        metadata={"splits": "all patterns in train; val and test empty", **metadata},
    )


def xor(*, encoding: Literal["binary", "bipolar"] = "binary") -> Dataset:
    """The XOR truth table: ``x: (4, 2)`` rows 00, 01, 10, 11; ``y: (4, 1)`` = 0, 1, 1, 0.

    ``encoding="bipolar"`` maps every 0 to -1 in inputs and targets (for tanh outputs).
    Regression task (float targets); val and test are empty.
    """
    encoding = check_choice("encoding", encoding, ENCODINGS, where="xor")
    bits = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    target = (bits[:, 0] ^ bits[:, 1]).reshape(4, 1)
    return _table("xor", _encode(bits, encoding), _encode(target, encoding), {"encoding": encoding})


def parity(n_bits: int = 4, *, encoding: Literal["binary", "bipolar"] = "binary") -> Dataset:
    """All ``2**n_bits`` patterns of n-bit parity.

    Row ``i`` of ``x: (2**n, n)`` is the binary expansion of ``i``, most significant bit first;
    ``y: (2**n, 1)`` is 1 when the row holds an odd number of ones. ``n_bits`` is 1..16.
    ``parity(2)`` is XOR. Regression task (float targets); val and test are empty.
    """
    n_bits = check_int("n_bits", n_bits, low=1, high=16, where="parity")
    encoding = check_choice("encoding", encoding, ENCODINGS, where="parity")
    i = np.arange(2**n_bits)
    bits = (i[:, None] >> np.arange(n_bits - 1, -1, -1)[None, :]) & 1  # (2**n, n), MSB first
    target = (bits.sum(axis=1) % 2).reshape(-1, 1)
    return _table(
        f"parity{n_bits}",
        _encode(bits, encoding),
        _encode(target, encoding),
        {"n_bits": n_bits, "encoding": encoding},
    )


def encoder(n: int = 8, m: int | None = None) -> Dataset:
    """The n-m-n encoder: ``x = y = eye(n)`` float32, each one-hot pattern mapped to itself.

    ``m`` is the hidden width the problem is posed with (default ``ceil(log2 n)``, e.g. 8-3-8,
    4-2-4); it is recorded in ``metadata["hidden"]`` and the name (``"encoder8-3-8"``) for the
    model config to use -- the data itself does not depend on it. Regression task (autoencoding
    targets ``(n, n)``); val and test are empty.
    """
    n = check_int("n", n, low=2, high=4096, where="encoder")
    default_m = max(1, math.ceil(math.log2(n)))
    m = default_m if m is None else check_int("m", m, low=1, where="encoder")
    patterns = np.eye(n, dtype=np.float32)
    return _table(f"encoder{n}-{m}-{n}", patterns, patterns.copy(), {"n": n, "hidden": m})


def two_spirals(
    n_per_class: int = 97, *, noise: float = 0.0, seed: int = 0, radius: float = 6.5
) -> Dataset:
    """Lang & Witbrock's two-spirals problem: ``x: (2 n, 2)`` float32, ``y: (2 n,)`` int32.

    Point ``i = 0..96`` of the first spiral lies at angle ``i pi / 16`` and radius
    ``6.5 (104 - i) / 104``, ``(r sin a, r cos a)``, labelled 1; the second spiral is its mirror
    image through the origin, labelled 0 (Wieland's ``mkspiral.c``). Rows alternate between the
    spirals. ``n_per_class != 97`` samples the same three turns at ``n_per_class`` evenly spaced
    points; ``radius`` rescales the outer radius (6.5 in the benchmark; 1.0 fits [-1, 1]^2);
    ``noise`` adds seeded Gaussian noise of that standard deviation (in units of ``radius/6.5``)
    to the coordinates. Classification with 2 classes; all points train, val and test are empty.
    """
    where = "two_spirals"
    n = check_int("n_per_class", n_per_class, low=2, high=1_000_000, where=where)
    seed = check_int("seed", seed, low=0, where=where)
    for key, value in (("noise", noise), ("radius", radius)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise DataError(f"{where}: {key} must be a finite number, got {value!r}.")
    if noise < 0 or radius <= 0:
        raise DataError(
            f"{where}: need noise >= 0 and radius > 0, got noise={noise}, radius={radius}."
        )
    t = np.arange(n, dtype=np.float64) * (96.0 / (n - 1))  # the benchmark's i, 0..96
    angle = t * math.pi / 16.0
    r = radius * (104.0 - t) / 104.0
    first = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)  # (n, 2)
    x = np.empty((2 * n, 2), dtype=np.float64)
    x[0::2], x[1::2] = first, 0.0 - first  # 0.0 - avoids -0.0
    y = np.tile(np.array([1, 0], dtype=np.int32), n)
    if noise > 0:
        x = x + np.random.default_rng(seed).normal(0.0, noise * radius / 6.5, size=x.shape)
    x = x.astype(np.float32)
    return Dataset(
        name="two_spirals",
        x_train=x,
        y_train=y,
        x_val=x[:0].copy(),
        y_val=y[:0].copy(),
        x_test=x[:0].copy(),
        y_test=y[:0].copy(),
        num_classes=2,
        input_shape=(2,),
        task="classification",
        metadata={
            "n_per_class": n,
            "noise": noise,
            "seed": seed,
            "radius": radius,
            "splits": "all points in train; val and test empty",
        },
    )


# ---------------------------------------------------------------------- 1-D regression


class Target1D(NamedTuple):
    """A named 1-D target function and the interval it is sampled on."""

    fn: Callable[[np.ndarray], np.ndarray]
    low: float
    high: float
    description: str


TARGETS: dict[str, Target1D] = {
    "sin": Target1D(np.sin, -math.pi, math.pi, "sin(x) on [-pi, pi]"),
    "cubic": Target1D(lambda x: x**3, -1.0, 1.0, "x^3 on [-1, 1]"),
    "abs": Target1D(np.abs, -1.0, 1.0, "|x| on [-1, 1] (a kink at 0)"),
    "step": Target1D(
        lambda x: (x >= 0).astype(x.dtype), -1.0, 1.0, "1[x >= 0] on [-1, 1] (discontinuous)"
    ),
    "gaussian": Target1D(
        lambda x: np.exp(-0.5 * (x / 0.25) ** 2), -1.0, 1.0, "exp(-x^2 / (2 * 0.25^2)) on [-1, 1]"
    ),
    "sinc": Target1D(lambda x: np.sinc(4.0 * x), -1.0, 1.0, "sin(4 pi x) / (4 pi x) on [-1, 1]"),
    "nielsen": Target1D(
        lambda x: 0.2 + 0.4 * x**2 + 0.3 * x * np.sin(15.0 * x) + 0.05 * np.cos(50.0 * x),
        0.0,
        1.0,
        "0.2 + 0.4 x^2 + 0.3 x sin(15 x) + 0.05 cos(50 x) on [0, 1] (Nielsen, ch. 4)",
    ),
}


def regression_1d(
    n: int = 200,
    fn: str = "sin",
    *,
    seed: int = 0,
    noise: float = 0.0,
    n_val: int = 50,
    n_test: int = 200,
) -> Dataset:
    """A 1-D function to approximate: ``x: (n, 1)`` float32 inputs, ``y: (n, 1)`` float32 targets.

    Train and validation inputs are drawn uniformly from the target's interval with
    ``default_rng(seed)``, and their targets get seeded Gaussian noise of std ``noise``. The test
    split is ``n_test`` evenly spaced points covering the interval, ends included, with exact
    targets: the curve to plot against and the approximation error to report. ``fn`` is one of
    :data:`TARGETS`: ``"sin"``, ``"cubic"``, ``"abs"``, ``"step"``, ``"gaussian"``, ``"sinc"``,
    ``"nielsen"``.
    """
    where = "regression_1d"
    if fn not in TARGETS:
        raise DataError(f"{where}: fn must be one of {tuple(TARGETS)}, got {fn!r}.")
    n = check_int("n", n, low=1, where=where)
    n_val = check_int("n_val", n_val, low=0, where=where)
    n_test = check_int("n_test", n_test, low=0, where=where)
    seed = check_int("seed", seed, low=0, where=where)
    if (
        isinstance(noise, bool)
        or not isinstance(noise, (int, float))
        or not (noise >= 0 and math.isfinite(noise))
    ):
        raise DataError(f"{where}: noise must be a finite number >= 0, got {noise!r}.")
    target = TARGETS[fn]
    rng = np.random.default_rng(seed)
    x_train = rng.uniform(target.low, target.high, size=(n, 1))
    x_val = rng.uniform(target.low, target.high, size=(n_val, 1))
    y_train = target.fn(x_train) + noise * rng.standard_normal((n, 1))
    y_val = target.fn(x_val) + noise * rng.standard_normal((n_val, 1))
    x_test = np.linspace(target.low, target.high, n_test).reshape(-1, 1)
    y_test = target.fn(x_test)

    def f32(a: np.ndarray) -> np.ndarray:
        return np.asarray(a, dtype=np.float32)

    return Dataset(
        name=f"regression_1d-{fn}",
        x_train=f32(x_train),
        y_train=f32(y_train),
        x_val=f32(x_val),
        y_val=f32(y_val),
        x_test=f32(x_test),
        y_test=f32(y_test),
        num_classes=None,
        input_shape=(1,),
        task="regression",
        metadata={
            "fn": fn,
            "description": target.description,
            "interval": (target.low, target.high),
            "noise": noise,
            "seed": seed,
            "splits": "train/val uniform random (noisy); test an even grid (exact)",
        },
    )
