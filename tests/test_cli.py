"""The ``fnnet`` command: in-process ``main([...])`` calls, and one subprocess of the console script."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

from fnnet import cli, plotting

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


pytestmark = pytest.mark.usefixtures("compilation_cache")  # see conftest.py


def run_dirs(out: Path, name: str) -> list[Path]:
    return sorted(p for p in (out / name).iterdir() if p.is_dir()) if (out / name).is_dir() else []


def leaves(npz: Path) -> dict[str, bytes]:
    with np.load(npz, allow_pickle=False) as z:
        return {
            k: z[k].tobytes() + str(z[k].dtype).encode() for k in z.files if k.startswith("leaf_")
        }


def train(*args: str) -> int:
    return cli.main(["train", *args, "--no-progress"])


# ------------------------------------------------------------------------------ the README command


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    """``fnnet train configs/digits_mlp.toml`` (into a temp output_dir), as the README says."""
    out = tmp_path_factory.mktemp("readme")
    with pytest.MonkeyPatch.context() as mp:
        captured = {}
        import io

        mp.setattr(sys, "stdout", io.StringIO())
        mp.setattr(sys, "stderr", io.StringIO())
        t0 = time.perf_counter()
        code = cli.main(["train", str(CONFIGS / "digits_mlp.toml"), "--set", f"output_dir={out}"])
        captured = {
            "wall": time.perf_counter() - t0,
            "out": sys.stdout.getvalue(),
            "err": sys.stderr.getvalue(),
        }
    assert code == 0, captured["err"]
    import jax

    assert jax.config.jax_compilation_cache_dir is None  # the CLI's XLA cache is switched off again
    (run,) = run_dirs(out, "digits_mlp")
    return run, captured


def test_readme_command_trains_digits_mlp_to_95_percent(readme_run):
    run, captured = readme_run
    assert captured["wall"] < 60
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["stopped"] == "max_epochs"
    assert summary["epochs"] == 40
    assert summary["final"]["test"]["accuracy"] >= 0.95
    # the summary table and the progress bar
    out, err = captured["out"], captured["err"]
    assert "test" in out and "accuracy" in out and "max_epochs" in out
    assert "40/40" in err and "val_acc" in err and "ex/s" in err
    # the run folder
    records = plotting.read_metrics(run / "metrics.jsonl")
    assert [r["epoch"] for r in records] == list(range(1, 41))
    assert {
        "loss",
        "train_loss",
        "val_loss",
        "train_accuracy",
        "val_accuracy",
        "examples_per_s",
    } <= set(records[0])
    assert (run / "loss.png").stat().st_size > 1000 and (run / "accuracy.png").stat().st_size > 1000
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "ckpt_000000020.npz",
        "ckpt_000000030.npz",
        "ckpt_000000040.npz",
    ]
    from fnnet import config as cfg

    saved = cfg.load(run / "config.toml")
    assert saved == cfg.load(CONFIGS / "digits_mlp.toml", [f"output_dir={run.parent.parent}"])


# ------------------------------------------------------------------------------ resume


def _stop_resume_compare(tmp_path, capsys, straight: Path, sets: list[str], k: int, n: int) -> None:
    """Train k epochs, stop, resume to n: the epoch-n checkpoint equals ``straight``'s bit for bit."""
    cfg_path = str(CONFIGS / "digits_mlp.toml")
    assert (
        train(
            cfg_path,
            f"--set=output_dir={tmp_path}",
            *sets,
            f"--set=train.epochs={k}",
            "--set=name=stopped",
        )
        == 0
    )
    (stopped,) = run_dirs(tmp_path, "stopped")
    assert (stopped / "checkpoints" / f"ckpt_{k:09d}.npz").is_file()
    capsys.readouterr()
    assert train("--resume", str(stopped), "--set", f"train.epochs={n}") == 0
    err = capsys.readouterr().err
    assert f"from ckpt_{k:09d}.npz (epoch {k} of {n})" in err
    a, b = (
        straight / "checkpoints" / f"ckpt_{n:09d}.npz",
        stopped / "checkpoints" / f"ckpt_{n:09d}.npz",
    )
    assert leaves(a) == leaves(b)  # params, optimizer state, shuffling key, step: every bit
    ra, rb = (
        plotting.read_metrics(straight / "metrics.jsonl")[:n],
        plotting.read_metrics(stopped / "metrics.jsonl"),
    )
    drop = ("seconds", "examples_per_s")
    assert [{k: v for k, v in r.items() if k not in drop} for r in ra] == [
        {k: v for k, v in r.items() if k not in drop} for r in rb
    ]
    summary = json.loads((stopped / "summary.json").read_text())
    assert summary["epochs"] == n and summary["resumed_from"][-1].endswith(f"ckpt_{k:09d}.npz")


def test_stop_and_resume_is_bit_identical_momentum(tmp_path, capsys, readme_run):
    straight, _ = readme_run  # 40 epochs straight, checkpoints every 10
    _stop_resume_compare(tmp_path, capsys, straight, [], k=3, n=20)


def test_stop_and_resume_is_bit_identical_rprop(tmp_path, capsys):
    sets = [
        "--set=train.mode=full",
        "--set=train.batch_size=",
        "--set=train.checkpoint_every=2",
        '--set=optimizer={name = "rprop", variant = "irprop-"}',
    ]
    assert (
        train(
            str(CONFIGS / "digits_mlp.toml"),
            f"--set=output_dir={tmp_path}",
            *sets,
            "--set=train.epochs=6",
            "--set=name=straight",
        )
        == 0
    )
    (straight,) = run_dirs(tmp_path, "straight")
    _stop_resume_compare(tmp_path, capsys, straight, sets, k=3, n=6)


def test_resume_a_finished_run_changes_nothing(tmp_path, capsys):
    assert (
        train(
            str(CONFIGS / "digits_mlp.toml"), f"--set=output_dir={tmp_path}", "--set=train.epochs=2"
        )
        == 0
    )
    (run,) = run_dirs(tmp_path, "digits_mlp")
    before = {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()}
    capsys.readouterr()
    assert train("--resume", str(run)) == 0
    out, err = capsys.readouterr()
    assert "nothing to train" in err and "2 of 2" in out
    assert {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()} == before
    # CONFIG with --resume must describe the same run
    assert train(str(CONFIGS / "digits_cnn.toml"), "--resume", str(run)) == 2
    assert "differs from the config of run" in capsys.readouterr().err


def test_early_stopping_reports_the_best_state_and_resume_respects_the_stop(tmp_path, capsys):
    # min_delta = 10: no epoch after the first counts as an improvement -> stop after 1 + patience
    sets = [
        f"--set=output_dir={tmp_path}",
        "--set=train.patience=2",
        "--set=train.min_delta=10.0",
        "--set=train.epochs=10",
    ]
    assert train(str(CONFIGS / "digits_mlp.toml"), *sets) == 0
    (run,) = run_dirs(tmp_path, "digits_mlp")
    summary = json.loads((run / "summary.json").read_text())
    assert (
        summary["stopped"] == "early_stopping"
        and summary["epochs"] == 3
        and summary["best_epoch"] == 1
    )
    records = plotting.read_metrics(run / "metrics.jsonl")
    assert summary["final"]["val"]["loss"] == pytest.approx(records[0]["val_loss"], rel=1e-6)
    assert [p.name for p in (run / "best").iterdir()] == ["ckpt_000000001.npz"]
    assert (run / "checkpoints" / "ckpt_000000003.npz").is_file()
    capsys.readouterr()
    assert train("--resume", str(run)) == 0
    assert "nothing to train" in capsys.readouterr().err
    assert json.loads((run / "summary.json").read_text())["final"] == summary["final"]


def test_grad_flag_and_zero_epochs(tmp_path, capsys):
    assert (
        train(
            str(CONFIGS / "digits_mlp.toml"),
            f"--set=output_dir={tmp_path}",
            "--set=train.epochs=0",
            "--grad",
            "autodiff",
        )
        == 0
    )
    (run,) = run_dirs(tmp_path, "digits_mlp")
    from fnnet import config as cfg

    assert cfg.load(run / "config.toml").train.grad == "autodiff"
    summary = json.loads((run / "summary.json").read_text())
    assert (
        summary["epochs"] == 0 and 0.0 <= summary["final"]["test"]["accuracy"] <= 0.3
    )  # untrained


def test_squared_error_losses_train_on_one_hot_rows_and_report_accuracy():
    from fnnet import config as cfg
    from fnnet import runs

    prep = runs.prepare(cfg.load(CONFIGS / "digits_mlp.toml", ["loss=quadratic"]))
    x, t = prep.splits["train"]
    assert t.shape == (x.shape[0], 10) and set(np.unique(t)) == {0.0, 1.0}
    assert prep.loss.name == "quadratic" and prep.loss.classification
    prep = runs.prepare(cfg.load(CONFIGS / "digits_mlp.toml"))
    assert prep.splits["train"][1].ndim == 1  # cross-entropy takes the class ids as they are


# ------------------------------------------------------------------------------ other commands


def test_gradcheck_prints_the_table(capsys):
    assert cli.main(["gradcheck", str(CONFIGS / "xor.toml"), "--batch", "4"]) == 0
    out = capsys.readouterr().out
    assert "rel(m,fd64)" in out and "PASS" in out and "FAIL" not in out
    assert out.count("['W']") == 2 and out.count("['b']") == 2


def test_list_shows_everything(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for needle in (
        "experiments:",
        "datasets:",
        "  digits",
        "layers:",
        "  Conv2D",
        "losses:",
        "  quadratic",
        "optimizers:",
        "  irprop-",
    ):
        assert needle in out
    for name in cli.experiment_names():
        assert f"  {name}\n" in out
        assert not name.startswith("_")


def test_experiment_dispatches_to_main(monkeypatch, capsys):
    seen = {}
    fake = types.ModuleType("fnnet.experiments.fake_study")
    fake.main = lambda argv=None: seen.setdefault("argv", argv) and 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fnnet.experiments.fake_study", fake)
    monkeypatch.setattr(cli, "experiment_names", lambda: ["fake_study"])
    assert (
        cli.main(["experiment", "fake_study", "--smoke", "--set", "a.b=1", "--device", "cpu"]) == 0
    )
    assert seen["argv"] == ["--smoke", "--set", "a.b=1"]
    assert cli.main(["experiment", "fake_stdy"]) == 2
    assert "did you mean 'fake_study'" in capsys.readouterr().err.lower()


def test_data_command(monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setattr(
        "fnnet.data.download_mnist", lambda d, force=False: calls.append((d, force)) or Path(d)
    )
    assert cli.main(["data", "mnist", "--dir", str(tmp_path)]) == 0
    assert calls == [(str(tmp_path), False)]
    assert cli.main(["data", "xor"]) == 0
    assert "needs no download" in capsys.readouterr().out
    assert cli.main(["data", "mnsit"]) == 2
    assert "did you mean 'mnist'" in capsys.readouterr().err.lower()


def test_plot_redraws_from_metrics_only(tmp_path, capsys):
    run = tmp_path / "r"
    run.mkdir()
    rows = [
        {
            "epoch": e,
            "loss": 1 / e,
            "train_loss": 1 / e,
            "val_loss": 2 / e,
            "train_accuracy": 0.5,
            "val_accuracy": 0.4,
        }
        for e in range(1, 6)
    ]
    (run / "metrics.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows) + '{"epoch": 6, "lo'
    )
    assert cli.main(["plot", str(run)]) == 0
    assert (run / "loss.png").is_file() and (run / "accuracy.png").is_file()
    assert cli.main(["plot", str(tmp_path / "missing")]) == 2


def test_device_flag(capsys):
    assert cli.main(["list", "--device", "cpu"]) == 0
    import jax

    if not any(d.platform == "gpu" for d in jax.devices()):
        assert cli.main(["list", "--device", "gpu"]) == 2
        err = capsys.readouterr().err
        assert "no GPU" in err and "--device cpu" in err


def test_user_errors_are_two_lines_and_exit_2(capsys, tmp_path):
    assert train(str(tmp_path / "nope.toml")) == 2
    err = capsys.readouterr().err
    assert "nope.toml" in err and "not found" in err and len(err.strip().splitlines()) <= 2
    assert "Traceback" not in err
    assert train(str(tmp_path / "nope.toml"), "--debug") == 2
    assert "Traceback" in capsys.readouterr().err
    assert cli.main(["train"]) == 2
    assert "needs a CONFIG" in capsys.readouterr().err
    assert cli.main(["frobnicate"]) == 2  # argparse usage error
    assert cli.main(["train", str(CONFIGS / "xor.toml"), "--set", "train.epochs=-1"]) == 2
    assert "train.epochs" in capsys.readouterr().err


def test_console_script_in_a_subprocess(tmp_path):
    # the crash test's network and cache: this run also compiles the programs its subprocesses use
    from test_crash_resume import CONFIG, MOMENTUM, subprocess_env

    script = Path(sys.executable).parent / "fnnet"
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "fnnet"]
    env = subprocess_env(tmp_path)
    config = tmp_path / "crash.toml"
    config.write_text(
        CONFIG.format(name="console", out=tmp_path / "runs", optimizer=MOMENTUM, epochs=12)
    )
    proc = subprocess.run(
        [*cmd, "train", str(config), "--set", "train.epochs=3"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "3 of 3 (stopped: max_epochs)" in proc.stdout and "run folder:" in proc.stderr
    assert "3/3" in proc.stderr  # the progress bar
    (run,) = run_dirs(tmp_path / "runs", "console")
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    bad = subprocess.run(
        [*cmd, "train", "missing.toml"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert (
        bad.returncode == 2
        and "Traceback" not in bad.stderr
        and len(bad.stderr.strip().splitlines()) <= 2
    )
    assert "missing.toml" in bad.stderr and "not found" in bad.stderr
