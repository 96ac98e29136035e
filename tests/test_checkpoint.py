"""Tests of fnnet.checkpoint: round trips, atomic writes, corruption, mismatches, crashes."""

from __future__ import annotations

import json
import hashlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, NamedTuple

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnnet
from fnnet import checkpoint as ck
from fnnet.errors import CheckpointError


class RpropLikeState(NamedTuple):
    """Stands in for fnnet's own optimiser states: NamedTuple fields named after the paper."""

    step_sizes: Any
    prev_grad: Any
    count: Any


def make_state(seed: int = 0) -> dict[str, Any]:
    """A training state with every kind of leaf and container a checkpoint must hold."""
    k = jax.random.split(jax.random.PRNGKey(seed), 4)
    params = {
        "layers": [
            {"w": jax.random.normal(k[0], (5, 3), jnp.float32), "b": jnp.zeros(3, jnp.float32)},
            (),  # a parameter-free layer
            {"w": jax.random.normal(k[1], (3, 2), jnp.float64), "b": jnp.full(2, -0.0)},
        ]
    }
    chain = optax.chain(optax.clip_by_global_norm(1.0), optax.scale_by_adam(), optax.scale(-0.1))
    return {
        "params": params,
        "adam": optax.adam(1e-3).init(params),
        "chain": chain.init(params),
        "rprop": RpropLikeState(
            step_sizes=jax.tree.map(lambda p: jnp.full_like(p, 0.0125), params),
            prev_grad=jax.tree.map(jnp.zeros_like, params),
            count=jnp.asarray(7, jnp.int32),
        ),
        "raw_key": k[2],
        "typed_key": jax.random.key(seed + 1),
        "typed_keys": jax.random.split(jax.random.key(seed + 2), 3),
        "counts": jnp.arange(4, dtype=jnp.uint32) * jnp.uint32(0xFFFFFFF),
        "int64": jnp.asarray([-(2**62), 2**62], jnp.int64),
        "half": jnp.asarray([1.5, -2.25], jnp.bfloat16),
        "py_int": 12,
        "py_float": 0.1,
        "py_bool": True,
        "empty": (),
        "none": None,
    }


def leaf_bytes(leaf: Any) -> tuple[str, str, tuple[int, ...], bytes]:
    """(type, dtype, shape, raw bytes) of a leaf: two leaves are bit-identical iff these are."""
    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        data = np.asarray(jax.random.key_data(leaf))
        return "key", str(leaf.dtype), leaf.shape, data.tobytes()
    if isinstance(leaf, jax.Array):
        return "array", str(leaf.dtype), leaf.shape, np.asarray(leaf).tobytes()
    assert type(leaf) in (int, float, bool), type(leaf)
    return type(leaf).__name__, "", (), repr(leaf).encode()


def assert_bit_identical(got: Any, want: Any) -> None:
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
    got_leaves = jax.tree_util.tree_leaves_with_path(got)
    for (path, g), w in zip(got_leaves, jax.tree_util.tree_leaves(want), strict=True):
        assert leaf_bytes(g) == leaf_bytes(w), jax.tree_util.keystr(path)


METADATA = {"config": {"lr": 0.1, "sizes": [784, 30, 10]}, "history": [{"loss": 2.3}], "epoch": 3}


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    return make_state()


@pytest.fixture(scope="module")
def small_ckpt(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Any]:
    """The bytes of a small checkpoint and its state, for corruption tests."""
    params = {"w": jnp.arange(6.0, dtype=jnp.float32).reshape(2, 3), "b": jnp.ones(3)}
    small = {"params": params, "opt": optax.adam(1e-3).init(params), "rng": jax.random.key(0)}
    path = ck.save(tmp_path_factory.mktemp("small"), small, step=1, metadata=METADATA)
    return path.read_bytes(), small


# ----------------------------------------------------------------------------- round trips


def test_round_trip_is_bit_identical(tmp_path: Path, state: dict[str, Any]) -> None:
    path = ck.save(tmp_path, state, step=7, metadata=METADATA)
    assert path == tmp_path / "ckpt_000000007.npz"
    restored, metadata = ck.load(path, make_state(seed=99))  # template values do not matter
    assert_bit_identical(restored, state)
    assert metadata == METADATA
    assert isinstance(restored["adam"][0], optax.ScaleByAdamState)
    assert isinstance(restored["rprop"], RpropLikeState)
    assert isinstance(restored["chain"][1], optax.ScaleByAdamState)
    assert type(restored["py_int"]) is int and type(restored["py_float"]) is float
    assert type(restored["py_bool"]) is bool
    assert isinstance(restored["counts"], jax.Array)
    manifest = ck.read_manifest(path)
    assert manifest["fnnet_version"] == fnnet.__version__
    assert manifest["format_version"] == ck.FORMAT_VERSION
    assert manifest["step"] == 7
    assert manifest["leaves"][0]["path"] == "['adam'][0].count"


def test_npz_holds_no_pickles(tmp_path: Path, state: dict[str, Any]) -> None:
    path = ck.save(tmp_path, state, step=1)
    with np.load(path, allow_pickle=False) as npz:
        assert "__manifest__" in npz.files
        for name in npz.files:
            assert npz[name].dtype != object


def test_abstract_template_and_metadata_defaults(tmp_path: Path, state: dict[str, Any]) -> None:
    path = ck.save(tmp_path, state, step=1)
    like = jax.eval_shape(lambda: make_state())
    like = {**like, "py_int": 0, "py_float": 0.0, "py_bool": False}
    restored, metadata = ck.load(path, like)
    assert_bit_identical(restored, state)
    assert metadata == {}


@given(
    x=hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4), elements=st.floats()),
    n=hnp.arrays(np.int32, st.integers(0, 5)),
)
def test_round_trip_any_finite_values(tmp_path_factory: pytest.TempPathFactory, x, n) -> None:
    x = np.where(np.isfinite(x), x, 0.0)  # keep -0.0 and subnormals, drop NaN/Inf
    state = {"x": jnp.asarray(x), "n": (jnp.asarray(n),), "f": float(x.flat[0]) if x.size else 1.0}
    path = ck.save(tmp_path_factory.mktemp("rt"), state, step=0)
    assert_bit_identical(ck.load(path, state)[0], state)


def test_python_scalar_and_0d_array_fit_each_other(tmp_path: Path) -> None:
    trained = {"step": jnp.asarray(41, jnp.int32), "lr": jnp.asarray(0.5, jnp.float32)}
    restored, _ = ck.load(ck.save(tmp_path, trained, step=1), {"step": 0, "lr": 0.1})
    assert restored == {"step": 41, "lr": 0.5} and type(restored["step"]) is int
    fresh = {"step": 41, "lr": 0.5}
    restored, _ = ck.load(ck.save(tmp_path, fresh, step=2), trained)
    assert restored["step"].dtype == jnp.int32 and int(restored["step"]) == 41
    with pytest.raises(CheckpointError, match=r"\['step'\].*300 does not fit in int8"):
        ck.load(ck.save(tmp_path, {"step": 300}, step=3), {"step": jnp.asarray(0, jnp.int8)})
    with pytest.raises(CheckpointError, match=r"\['lr'\].*does not fit in float16"):
        ck.load(ck.save(tmp_path, {"lr": 1e300}, step=4), {"lr": jnp.asarray(0, jnp.float16)})
    for like in ({"half": 0}, {"half": 0.0}, {"half": jax.random.key(0)}):  # kinds must agree
        with pytest.raises(CheckpointError, match=r"\['half'\]: expected .*, found bfloat16\[\]"):
            ck.load(ck.save(tmp_path, {"half": jnp.asarray(1, jnp.bfloat16)}, step=5), like)


# ----------------------------------------------------------------------------- writing


def test_keep_last_n(tmp_path: Path) -> None:
    for step in range(1, 7):
        ck.save(tmp_path, {"x": jnp.ones(2) * step}, step=step, keep=3)
    assert [p.name for p in ck.list_checkpoints(tmp_path)] == [
        "ckpt_000000006.npz",
        "ckpt_000000005.npz",
        "ckpt_000000004.npz",
    ]
    ck.save(tmp_path, {"x": jnp.ones(2)}, step=2, keep=1)  # an older step: still kept
    assert {p.name for p in tmp_path.iterdir()} == {"ckpt_000000006.npz", "ckpt_000000002.npz"}


def test_list_checkpoints_orders_by_step_number(tmp_path: Path) -> None:
    for name in ["ckpt_000000002.npz", "ckpt_1000000000.npz", "ckpt_000000010.npz", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / ".ckpt_000000011.npz.1.ab.tmp").write_bytes(b"")
    (tmp_path / "ckpt_12.npz").write_bytes(b"")
    names = [p.name for p in ck.list_checkpoints(tmp_path)]
    assert names == ["ckpt_1000000000.npz", "ckpt_000000010.npz", "ckpt_000000002.npz"]
    assert ck.list_checkpoints(tmp_path / "missing") == []


@pytest.mark.parametrize("where", ["savez", "fsync", "replace"])
def test_failed_write_leaves_previous_files_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    for step in (1, 2):
        ck.save(tmp_path, {"x": jnp.ones(1000) * step}, step=step)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    class Crash(Exception):
        pass

    def savez_half(f, **arrays):  # writes part of an archive, then dies
        f.write(b"PK\x03\x04" + b"\0" * 5000)
        raise Crash

    def fail(*args, **kwargs):
        raise Crash

    target = {"savez": (ck.writer.np, "savez", savez_half), "fsync": (ck.writer.os, "fsync", fail)}
    target["replace"] = (ck.writer.os, "replace", fail)
    monkeypatch.setattr(*target[where])
    with pytest.raises(Crash):
        ck.save(tmp_path, {"x": jnp.ones(1000) * 3}, step=3)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert ck.load_latest(tmp_path, {"x": jnp.ones(1000)})[0].name == "ckpt_000000002.npz"


def test_stray_temp_files_are_ignored_then_cleaned(tmp_path: Path) -> None:
    ck.save(tmp_path, {"x": jnp.ones(3)}, step=1)
    stray = tmp_path / ".ckpt_000000002.npz.123.abcd1234.tmp"
    stray.write_bytes(b"PK\x03\x04 half a checkpoint")
    assert ck.load_latest(tmp_path, {"x": jnp.ones(3)})[0].name == "ckpt_000000001.npz"
    ck.save(tmp_path, {"x": jnp.ones(3)}, step=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt_000000001.npz",
        "ckpt_000000002.npz",
    ]


@pytest.mark.parametrize(
    ("leaf", "path"),
    [
        (jnp.asarray([1.0, jnp.nan], jnp.float32), r"\['params'\]\['b'\].*1 non-finite.*\(1,\)"),
        (jnp.asarray([[jnp.inf]]), r"\['params'\]\['b'\]"),
        (-float("inf"), r"\['params'\]\['b'\].*-inf"),
        (jnp.asarray([jnp.nan], jnp.bfloat16), r"\['params'\]\['b'\]"),
    ],
)
def test_non_finite_state_is_refused(tmp_path: Path, leaf: Any, path: str) -> None:
    state = {"params": {"a": jnp.ones(2), "b": leaf, "c": jnp.asarray([jnp.nan])}}
    with pytest.raises(CheckpointError, match=f"refusing.*{path}"):
        ck.save(tmp_path, state, step=5)
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"step": -1}, "step must be an int >= 0, got -1"),
        ({"step": 1.0}, "step must be an int"),
        ({"step": 1, "keep": 0}, "keep must be an int >= 1, got 0"),
        ({"step": 1, "metadata": {"dir": Path("/x")}}, "PosixPath.*not JSON-serialisable"),
        ({"step": 1, "metadata": [1]}, "metadata must be a dict"),
    ],
)
def test_bad_arguments_write_nothing(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(CheckpointError, match=match):
        ck.save(tmp_path, {"x": jnp.ones(2)}, **kwargs)
    with pytest.raises(CheckpointError, match=r"leaf \['name'\] has type str"):
        ck.save(tmp_path, {"name": "mlp"}, step=1)
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_metadata_accepts_numpy_and_jax_scalars(tmp_path: Path) -> None:
    metadata = {"loss": np.float32(0.5), "acc": jnp.asarray(0.25), "epoch": np.int64(3)}
    path = ck.save(tmp_path, {"x": jnp.ones(1)}, step=1, metadata=metadata)
    _, got = ck.load(path, {"x": jnp.ones(1)})
    assert got == {"loss": 0.5, "acc": 0.25, "epoch": 3}


# ----------------------------------------------------------------------------- mismatches


def _with(state: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**state, **changes}


MISMATCHES = [
    # (change to the template, expected fragment of the message)
    (
        lambda s: _with(s, counts=jnp.zeros(5, jnp.uint32)),
        r"leaf \['counts'\]: expected uint32\[5\], found uint32\[4\]",
    ),
    (
        lambda s: _with(s, int64=s["int64"].astype(jnp.int32)),
        r"leaf \['int64'\]: expected int32\[2\], found int64\[2\]",
    ),
    (
        lambda s: _with(s, typed_key=jax.random.PRNGKey(0)),
        r"leaf \['typed_key'\]: expected uint32\[2\], found typed PRNG key key<fry>\[\]",
    ),
    (
        lambda s: _with(s, py_int=jnp.zeros(3)),
        r"\['py_int'\]: expected float64\[3\], found Python int",
    ),
    (
        lambda s: _with(s, params={"layers": s["params"]["layers"][:2]}),
        r"leaf #\d+ is \['py_bool'\] in the template but \['params'\]\['layers'\]\[2\]\['b'\]",
    ),
    (
        lambda s: {k: v for k, v in s.items() if k != "py_bool"},
        r"leaf #\d+ is \['py_float'\] in the template but \['py_bool'\] in the file",
    ),
    (
        lambda s: _with(s, zzz=1),
        r"leaf #\d+ is \['zzz'\] in the template but \(no more leaves\) in the file",
    ),
]


@pytest.mark.parametrize(("change", "match"), MISMATCHES)
def test_mismatched_template_names_first_differing_leaf(
    tmp_path: Path, state: dict[str, Any], change, match: str
) -> None:
    path = ck.save(tmp_path, state, step=4)
    with pytest.raises(CheckpointError, match=match) as err:
        ck.load(path, change(state))
    assert "another model or config" in str(err.value) and str(path) in str(err.value)
    with pytest.raises(CheckpointError, match=match):  # load_latest does not fall back past it
        ck.load_latest(tmp_path, change(state), on_skip=lambda p, r: pytest.fail(r))


# ----------------------------------------------------------------------------- damaged files


@settings(max_examples=60)
@given(fraction=st.floats(0.0, 1.0, exclude_max=True))
def test_truncated_file_is_refused(
    tmp_path_factory: pytest.TempPathFactory, small_ckpt: tuple[bytes, Any], fraction: float
) -> None:
    data, like = small_ckpt
    path = tmp_path_factory.mktemp("trunc") / "ckpt_000000001.npz"
    path.write_bytes(data[: int(fraction * len(data))])
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        ck.load(path, like)


def test_truncated_at_every_structural_offset(tmp_path: Path, small_ckpt) -> None:
    data, like = small_ckpt
    path = tmp_path / "ckpt_000000001.npz"
    for cut in [0, 1, 4, 30, len(data) - 22, len(data) - 1, *range(0, len(data), 97)]:
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="damaged|not a readable zip"):
            ck.load(path, like)


def _flip_outcome(path: Path, data: bytes, like: Any, offset: int, bit: int) -> str:
    flipped = bytearray(data)
    flipped[offset] ^= 1 << bit
    path.write_bytes(bytes(flipped))
    try:
        restored, metadata = ck.load(path, like)
    except CheckpointError as e:
        assert str(path) in str(e)
        return "refused"
    assert_bit_identical(restored, like)  # a harmless flip (zip padding): the exact same data
    assert metadata == METADATA
    return "same"


@settings(max_examples=300)
@given(position=st.floats(0.0, 1.0, exclude_max=True), bit=st.integers(0, 7))
def test_bit_flip_never_gives_wrong_data(
    tmp_path_factory: pytest.TempPathFactory, small_ckpt, position: float, bit: int
) -> None:
    data, like = small_ckpt
    path = tmp_path_factory.mktemp("flip") / "ckpt_000000001.npz"
    _flip_outcome(path, data, like, int(position * len(data)), bit)


def test_bit_flips_in_zip_directory(tmp_path: Path, small_ckpt) -> None:
    """Every byte of the central directory (names, sizes, offsets, CRCs), one bit each."""
    data, like = small_ckpt
    path = tmp_path / "ckpt_000000001.npz"
    start = int.from_bytes(data[-6:-2], "little")  # end record: offset of the directory
    assert data[start : start + 4] == b"PK\x01\x02"
    outcomes = [_flip_outcome(path, data, like, i, i % 8) for i in range(start, len(data))]
    assert outcomes.count("refused") > len(outcomes) // 2, outcomes.count("same")


def test_not_a_zip_and_missing_manifest(tmp_path: Path, small_ckpt) -> None:
    _, like = small_ckpt
    text = tmp_path / "ckpt_000000001.npz"
    text.write_text("loss: 0.1\n")
    with pytest.raises(CheckpointError, match=f"{re.escape(str(text))} is not a readable zip"):
        ck.load(text, like)
    npy = tmp_path / "ckpt_000000002.npz"
    with npy.open("wb") as f:
        np.save(f, np.ones(3))
    with pytest.raises(CheckpointError, match=f"{re.escape(str(npy))} is not a readable zip"):
        ck.load(npy, like)
    plain = tmp_path / "ckpt_000000003.npz"
    np.savez(plain, w=np.ones(3))
    with pytest.raises(CheckpointError, match=f"{re.escape(str(plain))} has no __manifest__ entry"):
        ck.load(plain, like)
    with pytest.raises(CheckpointError, match="does not exist"):
        ck.load(tmp_path / "ckpt_000000004.npz", like)


def _rewrite(src: Path, dst: Path, edit_manifest=None, edit_leaf=None, rehash: bool = True):
    """Rewrites a checkpoint with a changed manifest or leaf, with valid zip CRCs."""
    with np.load(src, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    manifest = json.loads(arrays["__manifest__"].tobytes())
    if edit_manifest:
        edit_manifest(manifest)
        raw = json.dumps(manifest).encode()
        arrays["__manifest__"] = np.frombuffer(raw, np.uint8)
        if rehash:
            arrays["__manifest_sha256__"] = np.frombuffer(
hashlib.sha256(raw).digest(), np.uint8
            )
    if edit_leaf:
        arrays["leaf_00003"] = edit_leaf(arrays["leaf_00003"])
    np.savez(dst, **arrays)


def test_wrong_format_version(tmp_path: Path, small_ckpt) -> None:
    data, like = small_ckpt
    (tmp_path / "src.npz").write_bytes(data)
    path = tmp_path / "ckpt_000000001.npz"
    _rewrite(tmp_path / "src.npz", path, edit_manifest=lambda m: m.update(format_version=99))
    with pytest.raises(CheckpointError, match=r"format version 99.*reads format version 1"):
        ck.load(path, like)


def test_tampering_with_valid_crcs_is_caught(tmp_path: Path, small_ckpt) -> None:
    data, like = small_ckpt
    src = tmp_path / "src.npz"
    src.write_bytes(data)
    path = tmp_path / "ckpt_000000001.npz"
    _rewrite(src, path, edit_manifest=lambda m: m["metadata"].update(epoch=4), rehash=False)
    with pytest.raises(CheckpointError, match="manifest fails its SHA-256"):
        ck.load(path, like)
    _rewrite(src, path, edit_leaf=lambda a: a + 1)
    with pytest.raises(CheckpointError, match="leaves fail their SHA-256"):
        ck.load(path, like)
    _rewrite(src, path, edit_leaf=lambda a: a[:1])
    with pytest.raises(CheckpointError, match=r"leaf \[.*holds .*, its manifest says"):
        ck.load(path, like)


def test_load_latest_falls_back_past_damaged_files(tmp_path: Path) -> None:
    like = {"x": jnp.zeros(100)}
    for step in (1, 2, 3):
        ck.save(tmp_path, {"x": jnp.full(100, float(step))}, step=step)
    newest = tmp_path / "ckpt_000000003.npz"
    newest.write_bytes(newest.read_bytes()[:-10])
    with pytest.warns(UserWarning, match="skipping damaged checkpoint.*ckpt_000000003"):
        path, state, _ = ck.load_latest(tmp_path, like)
    assert path.name == "ckpt_000000002.npz" and float(state["x"][0]) == 2.0
    skipped = []
    ck.load_latest(tmp_path, like, on_skip=lambda p, reason: skipped.append((p, reason)))
    assert skipped[0][0] == newest and "not a readable zip" in skipped[0][1]
    for name in ("ckpt_000000002.npz", "ckpt_000000001.npz"):
        (tmp_path / name).write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="(?s)no intact.*000000003.*000000002.*000000001"):
        ck.load_latest(tmp_path, like, on_skip=lambda p, r: None)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        ck.load_latest(tmp_path / "empty", like)


# ----------------------------------------------------------------------------- crashes

N_FLOATS = 500_000  # 2 MB of float32: one save takes a few ms, so kills land mid-write

ZYGOTE = textwrap.dedent(
    f"""
    import os, sys
    import numpy as np
    from fnnet import checkpoint as ck

    def make(step):
        return {{"w": np.full({N_FLOATS}, step, np.float32), "n": np.arange(1000) + step, "e": ()}}

    directory = sys.argv[1]
    ck.save(directory, make(0), step=0, keep=2)
    print("ready", flush=True)
    for _ in sys.stdin:  # one line per writer to start; JAX never touches a device here
        pid = os.fork()
        if pid == 0:
            try:
                latest = ck.list_checkpoints(directory)[0]
                step = int(latest.name[5:-4]) + 1
                while True:
                    ck.save(directory, make(step), step=step, metadata={{"step": step}}, keep=2)
                    step += 1
            finally:
                os._exit(3)
        print(pid, flush=True)
        print(os.waitpid(pid, 0)[1], flush=True)
    """
)


def _step(path: Path) -> int:
    return int(path.name[5:-4])


def test_sigkill_during_saves_never_leaves_a_partial_checkpoint(tmp_path: Path) -> None:
    """A process saving in a loop is SIGKILLed at random moments, 24 times.

    A zygote process imports fnnet once and forks each writer, so a kill costs milliseconds.
    Odd kills come 0-40 ms after the fork; even kills 0-10 ms after the writer finished a save,
    so the run makes progress however slow fsync is on this machine.
    """
    rng = np.random.default_rng(0)
    like = {"w": np.zeros(N_FLOATS, np.float32), "n": np.zeros(1000, np.int64), "e": ()}
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    zygote = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    mid_write = latest = 0
    pid = None
    try:
        assert zygote.stdout.readline() == "ready\n"
        for kill in range(24):
            zygote.stdin.write("go\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            deadline = time.monotonic() + 10.0
            while kill % 2 == 0 and _step(ck.list_checkpoints(tmp_path)[0]) <= latest:
                assert time.monotonic() < deadline, "the writer made no progress in 10 s"
                time.sleep(0.001)
            time.sleep(rng.uniform(0.0, 0.01 if kill % 2 == 0 else 0.04))
            os.kill(pid, signal.SIGKILL)
            status = int(zygote.stdout.readline())  # the zygote has reaped the writer
            pid = None
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
            mid_write += any(tmp_path.glob(".ckpt_*.tmp"))
            for path in ck.list_checkpoints(tmp_path):  # every final-named file is complete
                state, _ = ck.load(path, like)
                assert float(state["w"][-1]) == _step(path) == int(state["n"][0])
            path, state, _ = ck.load_latest(tmp_path, like, on_skip=lambda p, r: pytest.fail(r))
            assert _step(path) >= latest
            latest = _step(path)
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        zygote.stdin.close()
        zygote.kill()
        zygote.wait()
    assert latest >= 12 and mid_write >= 1, (latest, mid_write)
    ck.save(tmp_path, {**like, "w": np.ones(N_FLOATS, np.float32)}, step=10**6)
    assert not list(tmp_path.glob(".ckpt_*")), "the next save cleans up stray temp files"
