"""Shared by the benchmark scripts: the sandbox child process, memory, and BENCHMARKS.md rows."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


class Child:
    """A script's own `--child` mode in a subprocess: it prints one JSON line (the sandbox's
    URLs and keys), serves until its stdin closes."""

    def __init__(self, script: str, args: Sequence[str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, script, "--child", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.close()
            raise RuntimeError("the sandbox child stopped before it started serving")
        self.info: dict[str, Any] = json.loads(line)

    def matched(self, rule_id: str) -> int:
        """How many requests a fault rule of the child's sandbox has matched so far."""
        rules = httpx.get(f"{self.info['control_url']}/faults", trust_env=False).json()["data"]
        return int(next(r["matched"] for r in rules if r["id"] == rule_id))

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def record(title: str, intro: str, header: Sequence[str], cells: Sequence[Any]) -> None:
    """Append one table row under `## title` in BENCHMARKS.md, creating the section (with
    `intro` and the table header) at the end of the file the first time."""
    row = "| " + " | ".join(str(c) for c in cells) + " |"
    lines = BENCHMARKS.read_text().splitlines() if BENCHMARKS.exists() else ["# Benchmarks"]
    heading = f"## {title}"
    if heading not in lines:
        table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["", heading, "", intro.strip(), "", *table, row]
    else:
        start = lines.index(heading)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        tables = [i for i in range(start, end) if lines[i].startswith("|")]
        if tables:
            lines.insert(tables[-1] + 1, row)
        else:
            table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines[end:end] = ["", *table, row, ""]
    BENCHMARKS.write_text("\n".join(lines).rstrip("\n") + "\n")


def bench_parser(
    doc: str,
    *,
    concurrency: int | None = None,
    latency: bool = True,
    child: bool = True,
) -> argparse.ArgumentParser:
    """The options every benchmark shares: --seed, --record, and where it applies the
    sandbox's --latency-ms, the requests in flight (--concurrency) and the hidden --child
    (the same script serving the sandbox in a process of its own)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    if latency:
        parser.add_argument("--latency-ms", type=float, default=50.0)
    if concurrency is not None:
        parser.add_argument("--concurrency", type=int, default=concurrency)
    parser.add_argument("--record", action="store_true", help="append a row to BENCHMARKS.md")
    if child:
        parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser
