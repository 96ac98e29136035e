"""A catalogue of bad inputs: each one is refused with a message that names the problem, exit
status 2, and no output file damaged (every file of a finished run hashed before and after).

Configs, data files, checkpoints and a diverging run, all through the ``fnnet`` command.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import shutil
import signal
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_config import BASE

import fnnet.data as fdata
from fnnet import checkpoint, cli, plotting
from fnnet import config as cfg
from fnnet.data import Dataset, write_idx
from fnnet.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


pytestmark = pytest.mark.usefixtures("compilation_cache")  # see conftest.py


def snapshot(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def leaves(npz: Path) -> dict[str, bytes]:
    with np.load(npz, allow_pickle=False) as z:
        return {
            k: z[k].tobytes() + str(z[k].dtype).encode() for k in z.files if k.startswith("leaf_")
        }


def run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("*/*") if p.is_dir())


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def victim(tmp_path_factory) -> Path:
    """A finished 4-epoch digits run with checkpoints at epochs 0, 2 and 4."""
    out = tmp_path_factory.mktemp("victim")
    code = cli.main(
        [
            "train",
            str(CONFIGS / "digits_mlp.toml"),
            "--no-progress",
            f"--set=output_dir={out}",
            "--set=train.epochs=4",
            "--set=train.checkpoint_every=2",
        ]
    )
    assert code == 0
    (run,) = run_dirs(out)
    assert [p.name for p in checkpoint.list_checkpoints(run / "checkpoints")] == [
        "ckpt_000000004.npz",
        "ckpt_000000002.npz",
        "ckpt_000000000.npz",
    ]
    return run


@pytest.fixture(scope="module")
def victim_hash(victim) -> dict[str, str]:
    return snapshot(victim)


@dataclasses.dataclass
class Ctx:
    tmp: Path
    out: Path  # output_dir of every new run a case would start
    victim: Path
    monkeypatch: pytest.MonkeyPatch

    def config(
        self, text_or_changes: str | bytes | list[str] = "", base: str = "digits_mlp"
    ) -> str:
        """A config file: the base config with ``--set``-style changes applied (or raw content)."""
        path = self.tmp / "case.toml"
        if isinstance(text_or_changes, bytes):
            path.write_bytes(text_or_changes)
            return str(path)
        if isinstance(text_or_changes, str) and text_or_changes:
            path.write_text(text_or_changes)
            return str(path)
        raw = cfg.to_dict(cfg.load(CONFIGS / f"{base}.toml"))
        raw["output_dir"] = str(self.out)
        table, _ = cfg.apply_overrides(raw, text_or_changes or [])
        path.write_text(cfg.to_toml(table))
        return str(path)

    def copy_victim(self) -> Path:
        run = self.tmp / "run_copy"
        shutil.copytree(self.victim, run)
        return run

    def mnist(self, **damage) -> str:
        """A tiny MNIST folder (40 train, 20 test images) written as IDX, optionally damaged."""
        root = self.tmp / "mnist"
        root.mkdir(exist_ok=True)
        rng = np.random.default_rng(0)
        arrays = {
            "train-images-idx3-ubyte": rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
            "train-labels-idx1-ubyte": (np.arange(40) % 10).astype(np.uint8),
            "t10k-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
            "t10k-labels-idx1-ubyte": (np.arange(20) % 10).astype(np.uint8),
        }
        arrays.update(damage.get("arrays", {}))
        for name, a in arrays.items():
            write_idx(root / name, a)
        for name, fn in damage.get("bytes", {}).items():
            (root / name).write_bytes(fn((root / name).read_bytes()))
        return self.config(["data={name = 'mnist', data_dir = '" + str(root) + "', val_size = 10}"])


def fake_loader(x_value: float | None = None, label: int | None = None) -> Callable[..., Dataset]:
    def loader(seed: int = 0) -> Dataset:
        del seed
        x = np.zeros((20, 64), np.float32)
        y = (np.arange(20) % 10).astype(np.int32)
        if x_value is not None:
            x[7, 3] = x_value
        if label is not None:
            y[5] = label
        e = np.zeros((0, 64), np.float32), np.zeros((0,), np.int32)
        return Dataset(
            "fake", x, y, *e, *e, num_classes=10, input_shape=(64,), task="classification"
        )

    return loader


def flip_middle_byte(data: bytes) -> bytes:
    b = bytearray(data)
    b[len(b) // 3] ^= 0x10
    return bytes(b)


def truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _set_newest(run: Path, fn: Callable[[bytes], bytes], all_files: bool = False) -> None:
    files = checkpoint.list_checkpoints(run / "checkpoints")
    for p in files if all_files else files[:1]:
        p.write_bytes(fn(p.read_bytes()))


def _rewrite_newest(run: Path, convert: Callable, metadata: Callable[[dict], dict]) -> None:
    """Load the newest checkpoint with the run's own template, change it, save it back."""
    from fnnet import runs

    newest = checkpoint.list_checkpoints(run / "checkpoints")[0]
    template = runs.prepare(cfg.load(run / "config.toml")).init_state()
    state, meta = checkpoint.load(newest, template)
    newest.unlink()
    checkpoint.save(
        run / "checkpoints",
        convert(state),
        step=int(meta["epoch"]),
        metadata=metadata(meta),
        keep=10,
    )


def _other_dtype(run: Path) -> None:
    import jax
    import jax.numpy as jnp

    wide = lambda s: jax.tree_util.tree_map(
        lambda a: a.astype(jnp.float64) if a.dtype == jnp.float32 else a, s
    )
    _rewrite_newest(run, wide, lambda m: m)


def _foreign_checkpoint(run: Path) -> None:
    _rewrite_newest(run, lambda s: s, lambda m: {"note": "not a run"})


def _other_model(run: Path) -> None:
    text = (run / "config.toml").read_text()
    (run / "config.toml").write_text(text.replace("out_dim = 64", "out_dim = 32", 1))


# ------------------------------------------------------------------------------ the catalogue
# (id, argv builder, substrings the message must contain)

Case = tuple[str, Callable[[Ctx], list[str]], list[str]]

CONFIG_CASES: list[Case] = [
    (
        "unknown-key",
        lambda c: ["train", c.config(["train.epoch=3"])],
        ["train.epoch", "did you mean 'epochs'"],
    ),
    (
        "unknown-top-key",
        lambda c: ["train", c.config(["optimiser={name='sgd'}"])],
        ["optimiser", "'optimizer'"],
    ),
    (
        "wrong-type",
        lambda c: ["train", c.config(["train.batch_size='32'"])],
        ["train.batch_size", "must be an integer"],
    ),
    (
        "batch-size-zero",
        lambda c: ["train", c.config(), "--set", "train.batch_size=0"],
        ["train.batch_size", ">= 1"],
    ),
    (
        "negative-lr",
        lambda c: ["train", c.config(["optimizer.learning_rate=-0.5"])],
        ["optimizer.learning_rate", "> 0"],
    ),
    (
        "nan-lr",
        lambda c: ["train", c.config(), "--set", "optimizer.learning_rate=nan"],
        ["optimizer.learning_rate", "finite"],
    ),
    (
        "missing-file",
        lambda c: ["train", str(c.tmp / "no_such.toml")],
        ["no_such.toml", "not found"],
    ),
    (
        "invalid-toml",
        lambda c: ["train", c.config("seed = 0\n[model\nlayers = []\n")],
        ["case.toml:2:", "invalid TOML"],
    ),
    (
        "not-utf8",
        lambda c: ["train", c.config(b"seed = 0\nname = '\xff'\n")],
        ["case.toml:2", "not UTF-8"],
    ),
    (
        "unknown-layer",
        lambda c: ["train", c.config(["model.layers[1].type=Tanhh"])],
        ["model.layers[1].type", "'Tanh'"],
    ),
    (
        "unknown-layer-keyword",
        lambda c: ["train", c.config(["model.layers[0].units=3"])],
        ["model.layers[0].units", "out_dim"],
    ),
    (
        "unknown-initializer",
        lambda c: ["train", c.config(["model.layers[0].W_init=xavier"])],
        ["W_init", "unknown initializer"],
    ),
    (
        "unknown-loss",
        lambda c: ["train", c.config(["loss=cross_entropy"])],
        ["loss", "cross_entropy"],
    ),
    (
        "unknown-optimizer",
        lambda c: ["train", c.config(["optimizer={name='adamw2', learning_rate=0.1}"])],
        ["optimizer.name", "unknown optimizer 'adamw2'"],
    ),
    (
        "unknown-rprop-variant",
        lambda c: ["train", c.config(["optimizer={name='rprop', variant='irprop*'}"])],
        ["optimizer.variant", "irprop"],
    ),
    (
        "bad-set-syntax",
        lambda c: ["train", c.config(), "--set", "train.epochs"],
        ["--set", "KEY=VALUE"],
    ),
    (
        "bad-set-path",
        lambda c: ["train", c.config(), "--set", "train..epochs=1"],
        ["--set", "not a key path"],
    ),
    (
        "unknown-dataset",
        lambda c: ["train", c.config(["data.name=mnsit"])],
        ["data.name", "did you mean 'mnist'"],
    ),
    (
        "unknown-data-keyword",
        lambda c: ["train", c.config(["data.flaten=false"])],
        ["data.flaten", "'flatten'"],
    ),
    ("bad-run-name", lambda c: ["train", c.config(["name='../../etc'"])], ["name", "folder name"]),
    (
        "batch-larger-than-data",
        lambda c: [
            "train",
            c.config(["data={name='xor'}", "loss=sse", "model.layers[2].out_dim=1"]),
        ],
        ["train.batch_size", "larger than the 4 training patterns"],
    ),
    ("gpu-missing", lambda c: ["train", c.config(), "--device", "gpu"], ["--device gpu", "no GPU"]),
]

DATA_CASES: list[Case] = [
    (
        "idx-bad-magic",
        lambda c: [
            "train",
            c.mnist(bytes={"train-labels-idx1-ubyte": lambda b: b"\x01\x02" + b[2:]}),
        ],
        ["train-labels-idx1-ubyte"],
    ),
    (
        "idx-truncated",
        lambda c: ["train", c.mnist(bytes={"train-images-idx3-ubyte": truncate})],
        ["train-images-idx3-ubyte"],
    ),
    (
        "label-count-mismatch",
        lambda c: ["train", c.mnist(arrays={"train-labels-idx1-ubyte": np.zeros(39, np.uint8)})],
        ["40 images", "39 labels"],
    ),
    (
        "labels-out-of-range",
        lambda c: ["train", c.mnist(arrays={"t10k-labels-idx1-ubyte": np.full(20, 12, np.uint8)})],
        ["label[0] = 12", "0..9"],
    ),
    (
        "mnist-missing",
        lambda c: [
            "train",
            c.config(["data={name='mnist', data_dir='" + str(c.tmp / "nowhere") + "'}"]),
        ],
        ["does not exist", "fnnet data mnist"],
    ),
    (
        "nan-inputs",
        lambda c: (
            c.monkeypatch.setitem(fdata.LOADERS, "fake", fake_loader(x_value=float("nan"))),
            ["train", c.config(["data.name=fake"])],
        )[1],
        ["fake", "NaN"],
    ),
    (
        "inf-inputs",
        lambda c: (
            c.monkeypatch.setitem(fdata.LOADERS, "fake", fake_loader(x_value=float("inf"))),
            ["train", c.config(["data.name=fake"])],
        )[1],
        ["fake", "inf"],
    ),
    (
        "label-out-of-range-fake",
        lambda c: (
            c.monkeypatch.setitem(fdata.LOADERS, "fake", fake_loader(label=10)),
            ["train", c.config(["data.name=fake"])],
        )[1],
        ["fake", "10"],
    ),
    (
        "wrong-input-width",
        lambda c: ["train", c.config(["model.input_shape=[32]"])],
        ["input_shape", "[32]", "[64]"],
    ),
    (
        "wrong-output-width",
        lambda c: ["train", c.config(["model.layers[2].out_dim=5"])],
        ["10 classes", "out_dim = 10"],
    ),
    (
        "reshape-mismatch",
        lambda c: ["train", c.config(["model.layers[0]={type='Reshape', shape=[7, 7, 1]}"])],
        ["does not fit", "Reshape", "(64,)"],
    ),
]

CHECKPOINT_CASES: list[Case] = [
    (
        "all-checkpoints-truncated",
        lambda c: ["train", "--resume", str(_damage(c, truncate, True))],
        ["no intact checkpoint", "ckpt_000000004.npz", "more lines"],
    ),
    (
        "all-checkpoints-bit-flipped",
        lambda c: ["train", "--resume", str(_damage(c, flip_middle_byte, True))],
        ["no intact checkpoint", "damaged"],
    ),
    (
        "checkpoint-of-other-model",
        lambda c: ["train", "--resume", str(_damage_with(c, _other_model))],
        ["does not fit the template", "expected float32[64,32]", "found float32[64,64]"],
    ),
    (
        "checkpoint-of-other-dtype",
        lambda c: ["train", "--resume", str(_damage_with(c, _other_dtype))],
        ["does not fit the template", "float64"],
    ),
    (
        "checkpoint-not-from-a-run",
        lambda c: ["train", "--resume", str(_damage_with(c, _foreign_checkpoint))],
        ["not written by an fnnet run"],
    ),
    (
        "resume-not-a-run",
        lambda c: ["train", "--resume", str(c.tmp)],
        ["not a run folder", "config.toml"],
    ),
]


def _damage(c: Ctx, fn: Callable[[bytes], bytes], all_files: bool) -> Path:
    run = c.copy_victim()
    _set_newest(run, fn, all_files)
    return run


def _damage_with(c: Ctx, fn: Callable[[Path], None]) -> Path:
    run = c.copy_victim()
    fn(run)
    return run


ALL_CASES = CONFIG_CASES + DATA_CASES + CHECKPOINT_CASES


def test_the_catalogue_is_big_enough():
    assert len(ALL_CASES) + 3 >= 30  # + the fallback and divergence tests below
    assert len({name for name, _, _ in ALL_CASES}) == len(ALL_CASES)


@pytest.mark.parametrize(("name", "argv", "needles"), ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_bad_input_is_refused_and_nothing_is_damaged(
    name, argv, needles, tmp_path, monkeypatch, capsys, victim, victim_hash
):
    if name == "gpu-missing":
        import jax

        if any(d.platform == "gpu" for d in jax.devices()):
            pytest.skip("a GPU is present")
    ctx = Ctx(tmp_path, tmp_path / "out", victim, monkeypatch)
    args = argv(ctx)
    before = snapshot(tmp_path)
    code = cli.main([*args, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert lines[0].startswith("fnnet: error") and len(lines) <= 2, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle.lower() in err.lower(), (needle, err)
    assert snapshot(tmp_path) == before  # the failing command changed no file (nor created one)
    assert not (tmp_path / "out").exists() or not run_dirs(tmp_path / "out")
    assert snapshot(victim) == victim_hash


# ------------------------------------------------------------------------------ fallbacks and divergence


@pytest.mark.parametrize("damage", [truncate, flip_middle_byte], ids=["truncated", "bit-flipped"])
def test_damaged_newest_checkpoint_falls_back_and_finishes_identically(
    damage, tmp_path, capsys, victim, victim_hash
):
    ctx = Ctx(tmp_path, tmp_path / "out", victim, pytest.MonkeyPatch())
    run = _damage(ctx, damage, False)
    older = {k: v for k, v in snapshot(run).items() if k.endswith(("000002.npz", "000000.npz"))}
    assert cli.main(["train", "--resume", str(run), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert (
        "skipping damaged checkpoint ckpt_000000004.npz" in err and "from ckpt_000000002.npz" in err
    )
    after = snapshot(run)
    assert {k: after[k] for k in older} == older  # the intact checkpoints are untouched
    # the damaged file was replaced by an intact one holding the same state, bit for bit
    assert leaves(run / "checkpoints" / "ckpt_000000004.npz") == leaves(
        victim / "checkpoints" / "ckpt_000000004.npz"
    )
    assert [r["epoch"] for r in plotting.read_metrics(run / "metrics.jsonl")] == [1, 2, 3, 4]
    assert snapshot(victim) == victim_hash


def test_diverging_run_stops_with_the_last_good_state(tmp_path, capsys, victim, victim_hash):
    ctx = Ctx(tmp_path, tmp_path / "out", victim, pytest.MonkeyPatch())
    path = ctx.config(
        [
            "loss=sse",
            "optimizer={name='sgd', learning_rate=1e6}",
            "train.epochs=3",
            "train.checkpoint_every=1",
        ]
    )
    code = cli.main(["train", path, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.startswith(("fnnet: error", "Run folder"))]
    assert len(lines) == 2
    assert "non-finite loss or gradient at epoch 1" in lines[0] and "learning rate" in lines[0]
    assert "last good state saved to" in lines[1]
    (run,) = run_dirs(tmp_path / "out")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["stopped"] == "non_finite"
    (good,) = checkpoint.list_checkpoints(run / "last_good")
    manifest = checkpoint.read_manifest(good)
    assert (
        manifest["metadata"]["kind"] == "fnnet-run"
        and "non-finite" in manifest["metadata"]["reason"]
    )
    with np.load(good, allow_pickle=False) as z:
        for k in z.files:
            if k.startswith("leaf_") and z[k].dtype.kind == "f":
                assert np.isfinite(z[k]).all()
    for p in checkpoint.list_checkpoints(run / "checkpoints"):  # every epoch checkpoint is intact
        checkpoint.read_manifest(p)
    assert not list((run / "checkpoints").glob(".*.tmp"))
    assert cfg.load(run / "config.toml") == cfg.load(path)
    assert snapshot(victim) == victim_hash


@contextlib.contextmanager
def no_hang(seconds: float = 5.0):
    """Fail (instead of hanging) if the block runs longer than ``seconds``."""

    def alarm(signum, frame):
        raise TimeoutError(f"the config loader ran for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------------------ fuzzing the config loader
# Random tables, random TOML-ish text, random --set values, valid configs with random parts
# swapped: the loader raises ConfigError or returns a valid config -- never another exception,
# never a hang (each call runs under a 5 s alarm).

_keys = st.sampled_from(
    [
        "name",
        "seed",
        "model",
        "train",
        "optimizer",
        "data",
        "loss",
        "layers",
        "type",
        "out_dim",
        "epochs",
        "batch_size",
        "learning_rate",
        "mode",
        "x",
        "Dense",
    ]
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12,
)


def _drop_none(v):
    if isinstance(v, dict):
        return {k: _drop_none(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_drop_none(x) for x in v if x is not None]
    return v


FUZZ = settings(max_examples=max(300, settings.default.max_examples))


@FUZZ
@given(st.dictionaries(_keys, _values, max_size=6))
def test_random_tables_raise_only_config_errors(table):
    with no_hang():
        try:
            cfg.from_dict(_drop_none(table))
        except ConfigError:
            pass


_toml_chars = st.sampled_from(list("[]{}=\"'.,=#\n\t ") + list("abcdeflmnoprstuyz0123456789_-+"))


@FUZZ
@given(st.text(_toml_chars, max_size=120), st.lists(st.text(max_size=20), max_size=3))
def test_random_text_raises_only_config_errors(text, overrides):
    with no_hang():
        try:
            cfg.loads(text, overrides=overrides)
        except ConfigError:
            pass


@FUZZ
@given(st.text(max_size=200))
def test_random_unicode_raises_only_config_errors(text):
    with no_hang():
        try:
            cfg.loads(text)
        except ConfigError:
            pass


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))
    yield prefix


_BASE_RAW = tomllib.loads(BASE)
_BASE_PATHS = [p for p in _paths(_BASE_RAW) if p]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(_BASE_PATHS), _values), min_size=1, max_size=3))
def test_perturbed_valid_configs_raise_only_config_errors(changes):
    raw = copy.deepcopy(_BASE_RAW)
    for path, value in changes:
        node = raw
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = _drop_none(value) if value is not None else 0
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this path
    try:
        with no_hang():
            c = cfg.from_dict(raw)
    except ConfigError:
        return
    assert cfg.loads(cfg.to_toml(c)) == c
