"""Configs: TOML -> frozen dataclasses (defaults: fnnet.config.schema); every error named."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fnnet import config as cfg
from fnnet.errors import ConfigError
from fnnet.models import LayerSpec, build_model, check_layer

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.toml"))

MINIMAL = """
[model]
layers = [{type = "Dense", out_dim = 10}]
"""

BASE = """
name = "t"
seed = 3
loss = "softmax_cross_entropy"

[model]
layers = [
  {type = "Dense", out_dim = 16, W_init = {name = "normal", stddev = 0.1}},
  {type = "Tanh"},
  {type = "Dense", out_dim = 10},
]

[optimizer]
name = "momentum"
learning_rate = 0.1
alpha = 0.9

[train]
batch_size = 32
epochs = 5

[data]
name = "digits"
"""


def err(text: str, *overrides: str, source: str = "cfg.toml") -> str:
    with pytest.raises(ConfigError) as info:
        cfg.loads(text, source=source, overrides=overrides)
    return str(info.value)


# ------------------------------------------------------------------------------ reading


def test_shipped_configs_load_and_round_trip():
    assert {p.stem for p in CONFIGS} >= {
        "digits_mlp",
        "xor",
        "digits_cnn",
        "digits_rprop",
        "nielsen_mnist",
    }
    for path in CONFIGS:
        c = cfg.load(path)
        assert c.name == path.stem
        again = cfg.loads(cfg.to_toml(c))
        assert again == c, path
        assert cfg.to_toml(again) == cfg.to_toml(c)


def test_defaults_live_in_config_py():
    c = cfg.loads(MINIMAL)
    assert c.name == "run" and c.seed == 0 and c.output_dir == "runs"
    assert c.loss == cfg.LossConfig("softmax_cross_entropy")
    assert c.optimizer.name == "momentum" and dict(c.optimizer.params) == {
        "learning_rate": 0.1,
        "alpha": 0.9,
    }
    assert c.train == cfg.TrainConfig()
    assert c.data == cfg.DataConfig("digits")
    assert c.model.input_shape is None
    assert cfg.DEFAULTS["train"]["epochs"] == cfg.TrainConfig.epochs
    d = cfg.to_dict(c)
    assert d["train"]["batch_size"] == 32 and "target_loss" not in d["train"]


def test_dataclasses_are_frozen_and_typed():
    c = cfg.loads(BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.seed = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.optimizer.params["learning_rate"] = 1.0  # type: ignore[index]
    assert isinstance(c.model.layers[0], LayerSpec)
    assert c.model.layers[0].params["W_init"]["stddev"] == 0.1
    assert c.train.batch_size_for(1000) == 32
    assert dataclasses.replace(c.train, mode="online", batch_size=None).batch_size_for(1000) == 1
    assert dataclasses.replace(c.train, mode="full", batch_size=None).batch_size_for(1000) == 1000


def test_modes_and_batch_size():
    assert cfg.loads(MINIMAL, overrides=["train.mode=full"]).train.batch_size is None
    assert (
        cfg.loads(MINIMAL, overrides=["train.mode=online", "train.batch_size=1"]).train.batch_size
        is None
    )
    msg = err(MINIMAL, "train.mode=full", "train.batch_size=8")
    assert "train.batch_size" in msg and "mode" in msg
    with pytest.raises(ConfigError, match=r"train.batch_size: 64 is larger than the 4 training"):
        cfg.TrainConfig(batch_size=64).batch_size_for(4)


def test_overrides_parse_toml_values_and_fall_back_to_strings():
    c = cfg.loads(
        BASE,
        overrides=[
            "train.epochs=7",
            "optimizer.learning_rate=0.5",
            "train.shuffle=false",
            "name=other",
            "model.layers[0].out_dim=12",
            "model.layers.2.out_dim=10",
            "model.input_shape=[64]",
            'model.layers[1]={type = "Sigmoid", gain = 2.0}',
            "train.target_loss=1e-3",
        ],
    )
    assert c.train.epochs == 7 and c.optimizer.params["learning_rate"] == 0.5
    assert c.train.shuffle is False and c.name == "other" and c.model.input_shape == (64,)
    assert c.model.layers[0].params["out_dim"] == 12
    assert c.model.layers[1] == LayerSpec("Sigmoid", {"gain": 2.0})
    assert c.train.target_loss == 1e-3
    assert cfg.parse_override("a.b[2].c = hello world") == (("a", "b", 2, "c"), "hello world")
    assert cfg.parse_override("x=[1, 2]") == (("x",), [1, 2])


def test_empty_override_removes_a_key():
    c = cfg.loads(BASE, overrides=["train.mode=full", "train.batch_size="])
    assert c.train.mode == "full" and c.train.batch_size is None
    c = cfg.loads(BASE, overrides=["model.layers[1]=", "seed="])
    assert [s.type for s in c.model.layers] == ["Dense", "Dense"] and c.seed == 0
    assert "--set train.batch_size= removes it" in err(BASE, "train.mode=full")


def test_load_file_and_name_from_stem(tmp_path):
    p = tmp_path / "my-net.toml"
    p.write_text(MINIMAL)
    assert cfg.load(p).name == "my-net"
    assert cfg.load(p).source == str(p)


# ------------------------------------------------------------------------------ error paths


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        (["optimiser.name=sgd"], ["optimiser", "did you mean 'optimizer'"]),
        (["train.bach_size=3"], ["train.bach_size", "did you mean 'batch_size'"]),
        (["train.batch_size='32'"], ["train.batch_size", "must be an integer", "'32'"]),
        (["train.batch_size=0"], ["train.batch_size", ">= 1", "got 0"]),
        (["train.batch_size=-5"], ["train.batch_size", "got -5"]),
        (["train.epochs=-1"], ["train.epochs", ">= 0"]),
        (["train.epochs=2.5"], ["train.epochs", "must be an integer"]),
        (["optimizer.learning_rate=-0.1"], ["optimizer.learning_rate", "> 0", "-0.1"]),
        (["optimizer.learning_rate=nan"], ["optimizer.learning_rate", "finite", "nan"]),
        (["optimizer.learning_rate=inf"], ["optimizer.learning_rate", "finite"]),
        (["optimizer.learning_rate=true"], ["optimizer.learning_rate", "must be a number"]),
        (["optimizer.learning_rate=fast"], ["optimizer.learning_rate", "'fast'"]),
        (["optimizer.alpha=1.5"], ["optimizer.alpha", "[0, 1)"]),
        (["optimizer.name=momentun"], ["optimizer.name", "did you mean 'momentum'"]),
        (
            ["optimizer.name=rprop", "optimizer.variant=irprop"],
            ["optimizer.variant", "did you mean 'irprop-'"],
        ),
        (["optimizer.beta=1"], ["optimizer", "beta"]),
        (["loss=softmax_crossentropy"], ["loss", "did you mean 'softmax_cross_entropy'"]),
        (["loss=3"], ["loss", "must be a string"]),
        (["model.layers[0].type=Dens"], ["model.layers[0].type", "did you mean 'Dense'"]),
        (["model.layers[0].out_dims=3"], ["model.layers[0].out_dims", "did you mean 'out_dim'"]),
        (["model.layers[0].out_dim=0"], ["model.layers[0].out_dim", "positive integer"]),
        (["model.layers[0]={type = 'Dense'}"], ["model.layers[0]", "needs 'out_dim'"]),
        (["model.layers[1]={gain = 1.0}"], ["model.layers[1]", "no 'type'"]),
        (["model.layers[1]=Tanh"], ["model.layers[1]", "must be a table"]),
        (["model.layers[0].W_init=glorot"], ["model.layers[0].W_init", "did you mean 'glorot_"]),
        (
            ["model.layers[0].W_init={name='normal', scale=1.0}"],
            ["model.layers[0].W_init", "normal"],
        ),
        (["model.layers=[]"], ["model.layers", "non-empty"]),
        (
            ["model.layers[1]={type='Conv2D', features=4, padding='FULL'}"],
            ["model.layers[1].padding", "SAME"],
        ),
        (
            ["model.layers[1]={type='Conv2D', features=4, kernel=[3, 3, 3]}"],
            ["model.layers[1].kernel", "pair"],
        ),
        (
            ["model.layers[1]={type='Reshape', shape=[8, 0]}"],
            ["model.layers[1].shape[1]", "positive"],
        ),
        (
            ["model.layers[1]={type='Residual', layers=[{type='Tahn'}]}"],
            ["model.layers[1].layers[0].type", "'Tanh'"],
        ),
        (["model.input_shape=[0]"], ["model.input_shape[0]", ">= 1"]),
        (["model.units=3"], ["model.units", "valid keys: layers, input_shape"]),
        (["train.mode=batch"], ["train.mode", "online, minibatch, full"]),
        (["train.grad=auto"], ["train.grad", "did you mean 'autodiff'"]),
        (["train.target_loss=-1"], ["train.target_loss", ">= 0"]),
        (["train.patience=0"], ["train.patience", ">= 1"]),
        (["train.min_delta=nan"], ["train.min_delta", "finite"]),
        (["train.checkpoint_every=0"], ["train.checkpoint_every", ">= 1"]),
        (["train.keep_checkpoints=0"], ["train.keep_checkpoints", ">= 1"]),
        (["train.shuffle=1"], ["train.shuffle", "true or false"]),
        (["data.name=digit"], ["data.name", "did you mean 'digits'"]),
        (["data.sed=1"], ["data.sed", "did you mean 'seed'"]),
        (["data.seed=nan"], ["data.seed", "finite"]),
        (["seed=-1"], ["seed", ">= 0"]),
        (["seed=4294967296"], ["seed", "2**32"]),
        (["seed=1979-05-27"], ["seed", "date"]),
        (["name='../escape'"], ["name", "folder name"]),
        (["name=''"], ["name", "folder name"]),
        (["output_dir=''"], ["output_dir", "non-empty"]),
        (["train=3"], ["train", "must be a table"]),
    ],
)
def test_bad_values_name_source_key_and_fix(overrides, needles):
    msg = err(BASE, *overrides)
    assert msg.startswith(("--set ", "cfg.toml")), msg
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_errors_in_the_file_name_the_file_and_key(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(BASE.replace("batch_size = 32", "batch_size = 0"))
    with pytest.raises(
        ConfigError, match=r"bad\.toml: train\.batch_size: must be an integer >= 1, got 0"
    ):
        cfg.load(p)
    p.write_text(BASE.replace("[train]", "[train]\nbatchsize = 8"))
    with pytest.raises(
        ConfigError, match=r"bad\.toml: train\.batchsize: .*did you mean 'batch_size'"
    ):
        cfg.load(p)


def test_missing_file_names_the_file_and_the_closest(tmp_path):
    (tmp_path / "digits_mlp.toml").write_text(MINIMAL)
    with pytest.raises(
        ConfigError, match=r"digits_mpl\.toml' not found.*did you mean 'digits_mlp\.toml'"
    ):
        cfg.load(tmp_path / "digits_mpl.toml")
    with pytest.raises(ConfigError, match="not found"):
        cfg.load(tmp_path / "nope" / "x.toml")
    with pytest.raises(ConfigError, match="not found"):
        cfg.load(tmp_path)  # a folder is not a config


def test_invalid_toml_names_file_line_and_column(tmp_path):
    p = tmp_path / "broken.toml"
    p.write_text('seed = 0\n[model]\nlayers = [{type = "Dense", out_dim = 10}\n')
    with pytest.raises(ConfigError) as info:
        cfg.load(p)
    msg = str(info.value)
    assert f"{p}:3:" in msg and "invalid TOML" in msg and "line 3:" in msg
    p.write_text("name = 'a'\nname = 'b'\n")
    with pytest.raises(ConfigError, match=r"broken\.toml:2:\d+: invalid TOML"):
        cfg.load(p)
    p.write_text("seed = ")
    with pytest.raises(ConfigError, match=r"broken\.toml:1: invalid TOML"):
        cfg.load(p)
    p.write_bytes(b"name = '\xff\xfe'\n")
    with pytest.raises(ConfigError, match=r"broken\.toml:1: .*not UTF-8"):
        cfg.load(p)


def test_missing_sections_and_wrong_shapes():
    assert "model: is missing" in err("seed = 1\n")
    assert "model.layers: is missing" in err("[model]\n")
    assert "model: must be a table" in err("model = 3\n")
    assert "loss.name: is missing" in err(MINIMAL + "\n[loss]\n")
    assert "optimizer.name: is missing" in err(MINIMAL + "\n[optimizer]\nlearning_rate = 0.1\n")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("foo", "expected KEY=VALUE"),
        ("=3", "is not a key path"),
        ("train..epochs=3", "is not a key path"),
        ("train.epochs[=3", "is not a key path"),
        ("0.x=3", "starts with a name"),
        ("seed.x=1", "seed is not a table"),
        ("model.layers[7].out_dim=1", "model.layers[7] is not an item of a list"),
    ],
)
def test_bad_set_syntax(text, needle):
    msg = err(BASE, text)
    assert needle in msg and "--set" in msg


def test_set_origin_is_named_even_for_nested_problems():
    msg = err(BASE, 'model.layers[0]={type = "Dense", out_dim = -1}')
    assert msg.startswith("--set model.layers[0]=") and "model.layers[0].out_dim" in msg


# ------------------------------------------------------------------------------ models


def _out_shape(model, in_shape):
    box = {}

    def init(key):
        box["out"], params = model.init(key, in_shape)
        return params

    jax.eval_shape(init, jax.random.PRNGKey(0))
    return tuple(box["out"])


def test_build_model_from_specs_and_tables():
    c = cfg.load(ROOT / "configs" / "digits_cnn.toml")
    assert _out_shape(build_model(c.model.layers), (-1, 64)) == (-1, 10)
    raw = [
        {"type": "Dense", "out_dim": 8, "W_init": "he_normal"},
        {"type": "ReLU"},
        {"type": "Residual", "layers": [{"type": "Dense", "out_dim": 8}, {"type": "Tanh"}]},
        {"type": "Dense", "out_dim": 3, "b_init": {"name": "constant", "value": 0.5}},
    ]
    assert _out_shape(build_model(raw), (-1, 5)) == (-1, 3)
    assert check_layer(raw[2]).params["layers"][1] == LayerSpec("Tanh", {})
    with pytest.raises(ConfigError, match="non-empty list"):
        build_model([])
    with pytest.raises(ConfigError, match=r"model.layers\[0\].type: unknown layer type 'Dens'"):
        build_model([{"type": "Dens"}])


# ------------------------------------------------------------------------------ properties


@given(
    epochs=st.integers(0, 10**6),
    lr=st.floats(1e-8, 1e3),
    bs=st.integers(1, 4096),
    name=st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    out=st.integers(1, 64),
    gain=st.floats(-10, 10),
)
def test_to_toml_round_trips(epochs, lr, bs, name, out, gain):
    c = cfg.loads(
        BASE,
        overrides=[
            f"train.epochs={epochs}",
            f"optimizer.learning_rate={lr!r}",
            f"train.batch_size={bs}",
            f"name='{name}'",
            f"model.layers[0].out_dim={out}",
            f"model.layers[1]={{type = 'Sigmoid', gain = {gain!r}}}",
        ],
    )
    assert cfg.loads(cfg.to_toml(c)) == c
