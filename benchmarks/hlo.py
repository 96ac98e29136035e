"""Reading compiled HLO: how many kernels (top-level instructions) a training step runs, by kind.

On CPU and GPU each top-level instruction of a computation (a fusion, a dot, a convolution, a
copy, ...) is one kernel launch / thunk; for small networks their number, not the FLOPs, sets the
step time. ``step_profile`` finds the ``while`` loop of a scanned step (by its trip count) and
counts the instructions of its body, so two implementations of the same step can be compared.
"""

from __future__ import annotations

import collections
import re
from typing import Any

_HEADER = re.compile(r"^(ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_INSTR = re.compile(r"^\s+(ROOT\s+)?%?[\w.\-]+\s*=\s*(.+?)\s([\w\-]+)\((.*)$")
_NOT_KERNELS = {"parameter", "get-tuple-element", "tuple", "constant", "bitcast"}


def computations(text: str) -> dict[str, list[str]]:
    """name -> instruction lines, for every computation in an HLO module's text."""
    comps: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if not line.startswith((" ", "\t")) and line.rstrip().endswith("{"):
            m = _HEADER.match(line)
            current = m.group(2) if m else None
            if current is not None:
                comps[current] = []
                if m.group(1):
                    comps["__ENTRY__"] = comps[current]
        elif current is not None and line.startswith((" ", "\t")):
            comps[current].append(line)
        elif line.startswith("}"):
            current = None
    return comps


def opcode(line: str) -> str | None:
    m = _INSTR.match(line)
    return m.group(3) if m else None


def _while_bodies(comps: dict[str, list[str]]):
    for lines in comps.values():
        for line in lines:
            if opcode(line) == "while":
                body = re.search(r"body=%?([\w.\-]+)", line)
                trip = re.search(r'"known_trip_count":\{"n":"(\d+)"', line)
                if body:
                    yield body.group(1), int(trip.group(1)) if trip else None


def count(lines: list[str]) -> collections.Counter:
    c: collections.Counter = collections.Counter()
    for line in lines:
        op = opcode(line)
        if op is not None and op not in _NOT_KERNELS:
            c[op] += 1
    return c


def step_profile(text: str, trip_count: int) -> dict[str, Any]:
    """Kernel counts of the body of the ``while`` loop that runs ``trip_count`` times
    (the scanned step), or of the entry computation if there is no such loop."""
    comps = computations(text)
    body = next((b for b, n in _while_bodies(comps) if n == trip_count and b in comps), None)
    lines = comps.get(body) if body else comps.get("__ENTRY__", [])
    c = count(lines or [])
    heavy = {
        k: v
        for k, v in c.items()
        if k
        in (
            "dot",
            "convolution",
            "scatter",
            "select-and-scatter",
            "reduce-window",
            "gather",
            "custom-call",
            "sort",
        )
    }
    return {
        "computation": body or "ENTRY",
        "kernels": sum(c.values()),
        "by_op": dict(c.most_common()),
        "heavy": heavy,
    }


def fusion_kinds(text: str, trip_count: int) -> dict[str, int]:
    """For the step body: kinds of the fusions (kLoop / kInput / kOutput / ...) it launches."""
    comps = computations(text)
    body = next((b for b, n in _while_bodies(comps) if n == trip_count and b in comps), None)
    kinds: collections.Counter = collections.Counter()
    for line in comps.get(body, []) if body else []:
        if opcode(line) == "fusion":
            k = re.search(r"kind=(\w+)", line)
            kinds[k.group(1) if k else "?"] += 1
    return dict(kinds)
