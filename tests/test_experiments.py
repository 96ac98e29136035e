"""The experiments at smoke size: each ``run(Config.smoke())`` finishes and its numbers are sane.

These check the claims' direction at small scale (a perceptron cannot learn XOR, Rprop drifts on
Hinton's mini-batch example, the linear autoencoder finds PCA's subspace, ...); the full-size numbers
are in ``experiments/results`` and ``experiments/README.md``. ``-m slow`` adds the whole command-line
pipeline (results JSON, plots, table) of every experiment.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from fnnet.data import write_idx
from fnnet.experiments import NAMES, _common

ROOT = Path(__file__).resolve().parents[1]


def smoke(name: str) -> dict:
    module = importlib.import_module(f"fnnet.experiments.{name}")
    return module.run(module.Config.smoke())


# ------------------------------------------------------------------------------ skeleton


@pytest.mark.parametrize("name", NAMES)
def test_every_experiment_has_the_skeleton(name):
    module = importlib.import_module(f"fnnet.experiments.{name}")
    for attr in ("Config", "run", "plot", "table", "main"):
        assert callable(getattr(module, attr)), f"{name}.{attr}"
    cfg, small = module.Config(), module.Config.smoke()
    assert type(small) is type(cfg) and small != cfg
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 1  # type: ignore[misc]
    script = ROOT / "experiments" / f"{name}.py"
    assert script.is_file(), f"missing thin script {script}"
    assert f"from fnnet.experiments.{name} import main" in script.read_text()


def test_results_json_round_trip_keeps_non_finite_numbers(tmp_path):
    record = {
        "a": np.float32(1.5),
        "b": [math.inf, -math.inf],
        "c": np.arange(3),
        "d": (1, "x"),
        "e": None,
    }
    path = _common.write_json(tmp_path / "r.json", record)
    json.loads(path.read_text())  # strict JSON
    back = _common.read_json(path)
    assert back["a"] == 1.5 and back["b"] == [math.inf, -math.inf] and back["c"] == [0, 1, 2]
    assert back["d"] == [1, "x"] and back["e"] is None


def test_population_summary_counts_failures_as_never():
    s = _common.summarize_population(np.array([10, 20, -1, -1, 30]), 100)
    assert (
        s["success_rate"] == 0.6
        and s["median_epochs"] == 30
        and s["median_epochs_successful"] == 20
    )
    assert _common.median_epochs([-1, -1, 5]) == math.inf


def test_format_table_aligns_columns():
    text = _common.format_table(["a", "bb"], [(1, 0.123456), ("long", math.inf)])
    lines = text.splitlines()
    assert lines[0].startswith("a     bb") and "0.123" in lines[2] and "inf" in lines[3]


def test_principal_angles_by_hand_match_scipy():
    from fnnet.experiments.pca_autoencoder import principal_angles, principal_angles_svd

    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    np.testing.assert_allclose(principal_angles_svd(A, B), principal_angles(A, B), atol=1e-6)
    assert principal_angles(A, A @ rng.normal(size=(3, 3))).max() < 1e-4  # same span


# ------------------------------------------------------------------------------ studies


def test_digits_mlp_reaches_90_percent():
    s = smoke("digits_mlp")["summary"]
    assert s["test_accuracy_min"] > 0.9


def test_xor_perceptron_fails_mlp_succeeds():
    s = smoke("xor")["summary"]
    assert s["perceptron_success_rate"] == 0.0
    assert s["perceptron_min_error"] > 0.25  # no single sigmoid unit gets E_TOTAL near 0 on XOR
    assert s["mlp_best_success_rate"] > 0.5


def test_rprop_beats_backprop_on_the_encoder():
    rules = smoke("rprop_vs_backprop")["problems"]["encoder"]["rules"]
    sgd = rules["sgd"]["best"]["median_epochs"]
    assert math.isfinite(sgd)
    assert rules["irprop-"]["best"]["median_epochs"] < sgd / 2


@pytest.mark.slow
def test_levenberg_marquardt_beats_backprop_on_the_encoder():
    from fnnet.experiments import rprop_vs_backprop as m

    cfg = dataclasses.replace(
        m.Config.smoke(), rules=("sgd",), encoder_lm=True, encoder_lm_max_iter=200
    )
    rules = m.run(cfg)["problems"]["encoder"]["rules"]
    assert (
        rules["levenberg-marquardt"]["best"]["median_epochs"]
        < rules["sgd"]["best"]["median_epochs"] / 2
    )


def test_hinton_example_drifts_only_on_mini_batches():
    r = smoke("rprop_minibatch")
    runs = r["hinton"]["runs"]
    for variant in ("rprop+", "rprop-", "irprop+", "irprop-"):
        assert runs[f"{variant} mini-batch"]["max_abs_w"] > 10, variant  # "it will grow a lot"
        assert runs[f"{variant} full-batch"]["max_abs_w"] == 0.0, variant
    assert abs(runs["sgd mini-batch"]["final_w"]) < 1e-5
    for v in r["digits"]["runs"].values():
        assert all(np.isfinite(v["final_train_loss"]))


def test_nielsen_mnist_skips_cleanly_without_data(tmp_path, capsys):
    from fnnet.experiments import nielsen_mnist

    missing = tmp_path / "nowhere"
    assert nielsen_mnist.main(["--data-dir", str(missing), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and f"fnnet data mnist --dir {missing}" in out
    assert not (tmp_path / "out").exists()


def _fake_mnist(folder: Path, n_train: int = 300, n_test: int = 100) -> None:
    """Learnable stand-in IDX files: each class a fixed random template plus noise."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    templates = rng.uniform(0, 255, size=(10, 28, 28))
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = np.clip(0.7 * templates[y] + rng.uniform(0, 80, size=(n, 28, 28)), 0, 255).astype(
            np.uint8
        )
        write_idx(folder / f"{prefix}-images-idx3-ubyte", x, gzip=True)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y)


def test_nielsen_mnist_pipeline_on_fake_idx_files(tmp_path, capsys):
    from fnnet.experiments import nielsen_mnist

    _fake_mnist(tmp_path / "mnist")
    out = tmp_path / "out"
    argv = ["--smoke", "--data-dir", str(tmp_path / "mnist"), "--val-size", "50", "--out", str(out)]
    assert nielsen_mnist.main(argv) == 0
    printed = capsys.readouterr().out
    assert "Epoch 0: " in printed and "Epoch 1: " in printed and " / 100" in printed
    results = _common.read_json(out / "results.json")
    assert results["n_train"] == 250 and len(results["test_correct"]) == 2
    assert results["config"]["learning_rate"] == 3.0 and results["config"]["batch_size"] == 10
    png = out / "nielsen_mnist.png"
    assert png.is_file() and png.stat().st_size < _common.MAX_PNG_BYTES


def test_cnn_manual_and_autodiff_follow_the_same_trajectory():
    r = smoke("cnn")
    assert r["dataset"] == "digits"
    assert r["summary"]["float32_max_rel_loss_diff"] < 1e-4
    assert r["summary"]["float32_params_rel_diff"] < 1e-4
    assert r["summary"]["test_accuracy_manual"] > 0.6


def test_linear_autoencoder_spans_pca_subspace():
    r = smoke("pca_autoencoder")
    assert r["summary"]["max_decoder_angle_deg"] < 5
    assert r["summary"]["max_hidden_angle_deg"] < 5
    for row in r["per_code_size"]:
        assert row["linear"]["test"] <= 1.01 * row["pca"]["test"]


def test_stacked_autoencoder_runs_both_initialisations():
    r = smoke("stacked_autoencoder")
    for v in r["label_fractions"].values():
        assert v["random"]["test_accuracy_mean"] > 0.7
        assert v["pretrained"]["test_accuracy_mean"] > 0.7


def test_sigmoid_deltas_vanish_and_skip_connections_keep_them():
    s = smoke("vanishing_gradients")["summary"]
    assert s["sigmoid"] < 0.1  # first hidden layer's delta norm > 10x below the output layer's
    assert s["sigmoid + skip"] > 10 * s["sigmoid"]


def test_wider_hidden_layer_fits_better():
    s = smoke("universal_approximation")["summary"]
    for v in s.values():
        mse = list(v["test_mse"].values())
        assert all(b < a for a, b in itertools.pairwise(mse)), mse
        assert v["first_over_last"] > 100


def test_manual_gradients_agree_with_autodiff():
    r = smoke("manual_vs_autodiff")
    for name, s in r["summary"].items():
        assert s["passed"], r["models"][name]["float32"]["table"]
        assert 0 < s["step_ratio_manual_over_autodiff"] < 100


# ------------------------------------------------------------------------------ full pipeline


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if n != "nielsen_mnist"])
def test_command_line_pipeline(name, tmp_path, capsys):
    module = importlib.import_module(f"fnnet.experiments.{name}")
    assert module.main(["--smoke", "--out", str(tmp_path)]) == 0
    results = _common.read_json(tmp_path / "results.json")
    assert results["experiment"] == name and results["smoke"] is True
    pngs = list(tmp_path.glob("*.png"))
    assert pngs and all(p.stat().st_size < _common.MAX_PNG_BYTES for p in pngs)
    assert capsys.readouterr().out.strip()
