"""Drive a server with wrk from the client core; one :class:`Sample` per run."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from procs import cpu_seconds, pinned

LUA = Path(__file__).resolve().parent / "requests.lua"
WRK_MARK = "WRK_JSON "


@dataclass(frozen=True)
class Case:
    """One kind of request, as wrk sends it: bodies are cycled, one per request."""

    key: str
    label: str
    method: str
    path: str
    bodies: Path | None = None  # one body per line; None: no body
    headers: dict[str, str] = field(default_factory=dict)
    connections: int = 8


@dataclass(frozen=True)
class Sample:
    """One wrk run against one server."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # non-2xx/3xx answers plus socket errors
    server_cpu: float  # CPU seconds the server used during the run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_share(self) -> float:
        """The share of one core the server got: well under 1 on a busy machine means noise."""
        return self.server_cpu / self.seconds

    @property
    def per_cpu_second(self) -> float:
        """Requests per second of server CPU: less sensitive to neighbours than ``rps``."""
        return self.requests / self.server_cpu if self.server_cpu else 0.0


def wrk_command(base_url: str, case: Case, seconds: int, cpu: int) -> list[str]:
    argv = ["wrk", "-t1", f"-c{case.connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    argv += ["-s", str(LUA), base_url, "--", case.method, case.path]
    argv.append(str(case.bodies) if case.bodies else "-")
    argv += [f"{name}: {value}" for name, value in case.headers.items()]
    return pinned(cpu, argv)


def run_wrk(base_url: str, case: Case, seconds: int, cpu: int, server_pids: list[int]) -> Sample:
    """Run wrk for ``seconds`` and measure the CPU the server processes spent meanwhile.

    Raises:
        RuntimeError: wrk failed or printed no summary.
    """
    cpu_before = sum(cpu_seconds(pid) for pid in server_pids)
    result = subprocess.run(
        wrk_command(base_url, case, seconds, cpu),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    cpu_used = sum(cpu_seconds(pid) for pid in server_pids) - cpu_before
    for line in result.stdout.splitlines():
        if line.startswith(WRK_MARK):
            return _sample(json.loads(line.removeprefix(WRK_MARK)), cpu_used)
    raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout}\n{result.stderr}")


def _sample(raw: dict[str, int], cpu_used: float) -> Sample:
    errors = sum(raw[name] for name in ("connect", "read", "write", "status", "timeout"))
    return Sample(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=errors,
        server_cpu=cpu_used,
    )
