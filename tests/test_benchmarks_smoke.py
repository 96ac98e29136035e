"""Smoke test of the benchmark runner (``python -m benchmarks``) at toy size: it runs, writes its
JSON and markdown, and every workload has its rows. Timings at this size mean nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ("W1", "W2", "W3", "W4", "W5")

pytestmark = pytest.mark.skipif(
    not (ROOT / "benchmarks" / "__main__.py").exists(), reason="benchmarks/ not in this checkout"
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false")
    cmd = [
        sys.executable,
        "-m",
        "benchmarks",
        "--tiny",
        "--core",
        "--peers",
        "numpy",
        "--no-scaling",
        "--no-plot",
        "--out",
        str(out),
    ]
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, proc


def test_writes_json_and_markdown(tiny_run):
    out, proc = tiny_run
    (js,) = out.glob("*-tiny.json")
    (md,) = out.glob("*-tiny.md")
    doc = json.loads(js.read_text())
    meta = doc["meta"]
    assert meta["mode"] == "tiny"
    for key in ("date", "device", "versions", "command"):
        assert meta[key]
    assert meta["device"]["platform"] and meta["device"]["cpu_count"] >= 1
    assert meta["versions"]["jax"]
    text = md.read_text()
    assert "| implementation |" in text and "## Targets" in text
    assert "| implementation |" in proc.stdout  # the table is printed too


def test_every_workload_has_rows(tiny_run):
    out, _ = tiny_run
    (js,) = out.glob("*-tiny.json")
    doc = json.loads(js.read_text())
    text = next(out.glob("*-tiny.md")).read_text()
    assert sorted(doc["workloads"]) == list(WORKLOADS)
    for wid, w in doc["workloads"].items():
        assert w["rows"], wid
        assert f"## {wid} " in text
        fnnet_rows = [
            r for r in w["rows"] if r["impl"].startswith(("fnnet", "train_population", "W1 MLP"))
        ]
        assert fnnet_rows and all(r["status"] == "ok" for r in fnnet_rows), (wid, fnnet_rows)
        for r in w["rows"]:
            assert r["status"] in ("ok", "skipped", "error")
            if r["status"] == "ok":
                assert r["median_s"] > 0 and r["min_s"] <= r["median_s"]
    # equal work is visible: fnnet and the NumPy peer end at the same loss from the same start
    rows = {r["impl"]: r for r in doc["workloads"]["W1"]["rows"] if r["status"] == "ok"}
    peer = rows.get("numpy (Nielsen, vectorised mini-batch)")
    assert peer is not None
    fnnet_loss = rows["fnnet fit, manual backprop"]["final_loss"]
    assert peer["final_loss"] == pytest.approx(fnnet_loss, rel=1e-4)
    assert fnnet_loss < doc["workloads"]["W1"]["config"]["init_loss"]


def test_missing_peer_is_skipped_with_reason():
    from benchmarks.common import Skip, need, run_impl

    with pytest.raises(Skip, match="not importable"):
        need("surely_not_an_installed_module_xyz")

    def make():
        need("surely_not_an_installed_module_xyz")

    make.impl_name = "absent peer"
    row = run_impl(make, repeats=1)
    assert row == {"impl": "absent peer", "status": "skipped", "reason": row["reason"]}
    assert "surely_not_an_installed_module_xyz" in row["reason"]
