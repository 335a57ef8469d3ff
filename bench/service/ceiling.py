"""How close to the RSA-2048 signing floor can a Python /encode server get on this machine?

    .venv/bin/python bench/service/ceiling.py [--rounds N] [--seconds S] [--connections C]

Starts the stripped-down servers of ``ceiling_servers.py`` and ``jwtseal serve
--workers 1`` side by side, each pinned to core 0, and drives each in turn
with wrk from core 1 (POST /encode, RS256), in interleaved rounds that also
measure the floor (``cryptography`` signing in a tight loop, core 0). Prints
each server's signatures per CPU-second as a share of the floor: best round
against the best floor, and median against median. About 2 minutes at the
defaults. Loopback only; every process it starts is stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from kinds import API_KEY, JWKS_PATH, KINDS, Config
from load import Case, run_wrk
from procs import Launch, Processes, Server, children, free_port
from startup import sign_floor

SERVER_CPU = 0
CLIENT_CPU = 1
SERVERS = ("bare", "batched", "essential")
HERE = Path(__file__).resolve().parent


def _start_all(processes: Processes, workdir: Path) -> dict[str, Server]:
    started = {}
    for kind in SERVERS:
        port = free_port()
        argv = [sys.executable, str(HERE / "ceiling_servers.py"), kind, str(port), str(workdir / kind)]
        started[kind] = processes.start(kind, Launch(port, argv), SERVER_CPU, JWKS_PATH)
    config = Config(free_port(), "RS256", workdir / "jwtseal")
    started["jwtseal"] = processes.start("jwtseal", KINDS["jwtseal"].launch(config), SERVER_CPU, JWKS_PATH)
    return started


def _pids(server: Server) -> list[int]:
    return [server.pid, *children(server.pid)]


def _measure(
    workdir: Path, case: Case, rounds: int, seconds: int
) -> tuple[list[float], dict[str, list[float]]]:
    """Floor and every server's signatures per CPU-second, round by round, in a rotated order."""
    floors: list[float] = []
    rates: dict[str, list[float]] = {}
    with Processes(workdir) as processes:
        servers = _start_all(processes, workdir)
        for server in servers.values():
            run_wrk(server.base_url, case, 2, CLIENT_CPU, _pids(server))  # warm-up
        names = list(servers)
        for round_index in range(rounds):
            floors.append(sign_floor(sys.executable, SERVER_CPU, 2.0).per_cpu_second)
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                sample = run_wrk(servers[name].base_url, case, seconds, CLIENT_CPU, _pids(servers[name]))
                rates.setdefault(name, []).append(sample.per_cpu_second)
            print(f"  round {round_index + 1}/{rounds} done", flush=True)
    return floors, rates


def _report(floors: list[float], rates: dict[str, list[float]]) -> None:
    best_floor, median_floor = max(floors), statistics.median(floors)
    print(f"\nfloor: cryptography RSA-2048 sign, best {best_floor:,.0f}/CPU-s, median {median_floor:,.0f}")
    print(f"{'server':<10} {'best /CPU-s':>12} {'of floor':>9} {'median':>9} {'of floor':>9}")
    for name, values in rates.items():
        best, median = max(values), statistics.median(values)
        best_share, median_share = best / best_floor, median / median_floor
        print(f"{name:<10} {best:>12,.0f} {best_share:>9.1%} {median:>9,.0f} {median_share:>9.1%}")


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds [default: 5]")
    parser.add_argument("--seconds", type=int, default=4, help="seconds of wrk per server per round [4]")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections [default: 8]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jwtseal-ceiling-") as tmp:
        workdir = Path(tmp)
        bodies = workdir / "encode.jsonl"
        bodies.write_text(json.dumps({"groceryList": ["milk", "eggs", "healthy stuff"]}) + "\n")
        headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        case = Case("encode", "POST /encode RS256", "POST", "/encode", bodies, headers, args.connections)
        floors, rates = _measure(workdir, case, args.rounds, args.seconds)
    _report(floors, rates)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
