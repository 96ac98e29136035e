"""Crash and resume: ``python -m fnnet train`` killed with SIGKILL at random moments -- some while
a checkpoint is being written -- and resumed with ``--resume`` each time.

After every kill each checkpoint file on disk is intact, the resumed process starts from the
newest one and loses at most one checkpoint interval, and the final state equals that of an
uninterrupted run bit for bit (params, optimizer state, shuffling key, step).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fnnet import checkpoint, plotting

# 2-1024-1024-1 on XOR: a tiny problem with an 8 MB state (params + momentum), so a checkpoint
# write takes a few milliseconds and a kill can land inside one.
CONFIG = """
name = "{name}"
seed = 0
loss = "sse"
output_dir = "{out}"

[model]
layers = [
  {{type = "Dense", out_dim = 1024}}, {{type = "Tanh"}},
  {{type = "Dense", out_dim = 1024}}, {{type = "Tanh"}},
  {{type = "Dense", out_dim = 1}},
]

[optimizer]
{optimizer}

[train]
mode = "full"
epochs = {epochs}
checkpoint_every = 1
keep_checkpoints = 2

[data]
name = "xor"
"""
MOMENTUM = 'name = "momentum"\nlearning_rate = 0.001\nalpha = 0.9'
RPROP = 'name = "rprop"\nvariant = "irprop-"\nstep_init = 0.001'


class Proc:
    """A ``python -m fnnet`` subprocess with its stderr in a file."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]):
        self.log = log
        self.start = time.perf_counter()
        with open(log, "w") as err:
            self.p = subprocess.Popen(
                [sys.executable, "-m", "fnnet", *args, "--no-progress"],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match | None:
        """The first match of ``pattern`` in stderr, or None once the process has ended."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            m = re.search(pattern, self.text())
            if m or self.p.poll() is not None:
                return m or re.search(pattern, self.text())
            time.sleep(0.005)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.text()}")

    def kill(self) -> bool:
        """SIGKILL; True if the process was still running."""
        if self.p.poll() is not None:
            return False
        os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait()
        return True


def subprocess_env(tmp: Path) -> dict[str, str]:
    """The environment of every fnnet subprocess of the tests: one compilation cache per session."""
    cache = tmp.parent / "fnnet-xla-subprocess"
    return dict(
        os.environ, FNNET_COMPILATION_CACHE=str(cache), JAX_PLATFORMS="cpu", PYTHONHASHSEED="0"
    )


def _leaves(npz: Path) -> dict[str, bytes]:
    with np.load(npz, allow_pickle=False) as z:
        return {
            k: z[k].tobytes() + str(z[k].dtype).encode() for k in z.files if k.startswith("leaf_")
        }


def _reached(run: Path) -> int:
    records = plotting.read_metrics(run / "metrics.jsonl")
    return int(records[-1]["epoch"]) if records else 0


def _kill_mid_write(proc: Proc, ckpts: Path, timeout: float = 30.0) -> bool:
    """Kill as soon as a checkpoint temp file appears; True if one was left behind."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline and proc.p.poll() is None:
        try:
            if any(n.startswith(".ckpt_") for n in os.listdir(ckpts)):
                proc.kill()
                return any(n.startswith(".ckpt_") for n in os.listdir(ckpts))
        except FileNotFoundError:
            pass
        time.sleep(0.0002)
    proc.kill()
    return False


def crash_chain(
    tmp: Path, *, optimizer: str, epochs: int, kills: int, mid_write_every: int, seed: int
) -> dict:
    rng = random.Random(seed)
    env = subprocess_env(tmp)
    out = tmp / "runs"
    cfg_path = tmp / "crash.toml"
    cfg_path.write_text(CONFIG.format(name="crash", out=out, optimizer=optimizer, epochs=epochs))

    stats = {"kills": 0, "mid_write": 0, "resumed_from": [], "lost": []}
    proc = Proc(["train", str(cfg_path)], tmp / "p0.log", env)
    m = proc.wait_for(r"run folder: (\S+)")
    assert m, proc.text()
    run = Path(m.group(1))
    ckpts = run / "checkpoints"
    ref: Proc | None = None
    resumed, n = 0, 0
    while True:
        # wait until this process trains (one new epoch done): the kill lands mid-training
        deadline = time.perf_counter() + 120
        while _reached(run) <= resumed and proc.p.poll() is None and time.perf_counter() < deadline:
            time.sleep(0.002)
        if ref is None:  # the compiled programs are cached now: the uninterrupted run, alongside
            ref = Proc(["train", str(cfg_path), "--set", "name=reference"], tmp / "ref.log", env)
        if stats["kills"] >= kills or _reached(run) >= epochs - 1:
            assert proc.p.wait(timeout=300) == 0, proc.text()
            break
        if n % mid_write_every == mid_write_every - 1:
            stats["mid_write"] += _kill_mid_write(proc, ckpts)
            killed = True
        else:  # at a random moment within the epoch now in flight (at most 0.4 s away):
            # a fast machine must not finish the run between two kills
            until, start = time.perf_counter() + rng.uniform(0.0, 0.4), _reached(run)
            while time.perf_counter() < until and _reached(run) == start and proc.p.poll() is None:
                time.sleep(0.002)
            killed = proc.kill()
        if not killed:  # it finished first
            assert proc.p.returncode == 0, proc.text()
            break
        stats["kills"] += 1
        reached = _reached(run)
        # every checkpoint file on disk is complete and verifies (temp files are not listed)
        files = checkpoint.list_checkpoints(ckpts)
        for f in files:
            checkpoint.read_manifest(f)
        n += 1
        proc = Proc(["train", "--resume", str(run)], tmp / f"p{n}.log", env)
        m = proc.wait_for(r"from ckpt_(\d+)\.npz \(epoch (\d+) of|no checkpoint in")
        assert m, proc.text()
        resumed = int(m.group(2)) if m.group(2) else 0
        newest = int(re.match(r"ckpt_(\d+)", files[0].name).group(1)) if files else 0
        assert resumed == newest, (resumed, newest, proc.text())  # the newest checkpoint, always
        assert reached - resumed <= 1, (reached, resumed)  # at most one interval (1 epoch) lost
        stats["resumed_from"].append(resumed)
        stats["lost"].append(reached - resumed)

    assert ref.p.wait(timeout=300) == 0, ref.text()
    (ref_run,) = (out / "reference").iterdir()
    assert not list(ckpts.glob(".ckpt_*.tmp"))  # the next save cleans up a killed writer's temp
    final = f"ckpt_{epochs:09d}.npz"
    assert _leaves(run / "checkpoints" / final) == _leaves(ref_run / "checkpoints" / final)
    drop = ("seconds", "examples_per_s")
    strip = lambda rs: [{k: v for k, v in r.items() if k not in drop} for r in rs]
    assert strip(plotting.read_metrics(run / "metrics.jsonl")) == strip(
        plotting.read_metrics(ref_run / "metrics.jsonl")
    )
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == epochs
    return stats


def test_sigkill_and_resume_is_exact(tmp_path):
    stats = crash_chain(tmp_path, optimizer=MOMENTUM, epochs=10, kills=5, mid_write_every=2, seed=0)
    assert stats["kills"] == 5, stats
    assert stats["mid_write"] >= 1, stats


@pytest.mark.slow
@pytest.mark.parametrize(
    ("optimizer", "seed"), [(MOMENTUM, 1), (RPROP, 2)], ids=["momentum", "irprop-"]
)
def test_sigkill_and_resume_is_exact_long(tmp_path, optimizer, seed):
    stats = crash_chain(
        tmp_path, optimizer=optimizer, epochs=40, kills=24, mid_write_every=3, seed=seed
    )
    assert stats["kills"] >= 20, stats
    assert stats["mid_write"] >= 4, stats
