"""How close to the RSA-2048 floor can a Python /encode or /decode server get on this machine?

    .venv/bin/python bench/service/ceiling.py [--path {encode,decode}] [--rounds N] [--seconds S]
                                              [--connections C]

Starts the stripped-down servers of ``ceiling_servers.py`` and ``jwtseal serve
--workers 1`` side by side, each pinned to core 0, and drives each in turn
with wrk from core 1, in interleaved rounds that also measure the floor
(``cryptography`` in a tight loop, core 0):

- ``--path encode`` (the default): POST /encode RS256 against RSA-2048 signing;
- ``--path decode``: POST /decode of a pool of 256 distinct RS256 tokens,
  minted by jwtseal's own /encode, against RSA-2048 verification. The
  ``essential`` server opens jwtseal's data dir, so both verify the same
  tokens with the same keys; ``bare`` and ``batched`` get the same requests
  and verify one fixed signature.

Prints each server's signatures (or verifications) per CPU-second as a share
of the floor, best round against the best floor and median against median,
then jwtseal's as a share of the ``essential`` server's. About 2 minutes at
the defaults. Loopback only; every process it starts is stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from kinds import API_KEY, JWKS_PATH, KINDS, Config
from load import Case, run_wrk
from procs import Launch, Processes, Server, children, free_port
from run import GROCERY_LIST, TOKEN_POOL, check_case, mint_tokens, write_lines
from startup import SignFloor, sign_floor, verify_floor

SERVER_CPU = 0
CLIENT_CPU = 1
SERVERS = ("bare", "batched", "essential")
HERE = Path(__file__).resolve().parent
FLOORS: dict[str, Callable[[str, int, float], SignFloor]] = {"encode": sign_floor, "decode": verify_floor}


def _start_all(processes: Processes, workdir: Path, path: str) -> dict[str, Server]:
    """jwtseal first: for /decode, the ``essential`` server opens the key set jwtseal made."""
    jwtseal_dir = workdir / "jwtseal"
    config = Config(free_port(), "RS256", jwtseal_dir)
    jwtseal = processes.start("jwtseal", KINDS["jwtseal"].launch(config), SERVER_CPU, JWKS_PATH)
    started = {}
    for kind in SERVERS:
        port, data_dir = free_port(), jwtseal_dir if path == "decode" else workdir / kind
        argv = [sys.executable, str(HERE / "ceiling_servers.py"), kind, str(port), str(data_dir), path]
        started[kind] = processes.start(kind, Launch(port, argv), SERVER_CPU, JWKS_PATH)
    started["jwtseal"] = jwtseal
    return started


def _case(workdir: Path, path: str, jwtseal: Server, connections: int) -> Case:
    """The request wrk sends every server; for /decode, a pool of tokens jwtseal signed."""
    json_only = {"Content-Type": "application/json"}
    if path == "encode":
        bodies = workdir / "encode.jsonl"
        bodies.write_text(json.dumps(GROCERY_LIST) + "\n")
        headers = {"Authorization": f"Bearer {API_KEY}", **json_only}
        return Case("encode", "POST /encode RS256", "POST", "/encode", bodies, headers, connections)
    tokens = [{"token": token} for token in mint_tokens(jwtseal, TOKEN_POOL)]
    bodies = write_lines(workdir / "decode.jsonl", tokens)
    return Case("decode", "POST /decode RS256", "POST", "/decode", bodies, json_only, connections)


def _pids(server: Server) -> list[int]:
    return [server.pid, *children(server.pid)]


def _measure(
    workdir: Path, path: str, connections: int, rounds: int, seconds: int
) -> tuple[list[float], dict[str, list[float]]]:
    """Floor and every server's operations per CPU-second, round by round, in a rotated order."""
    floors: list[float] = []
    rates: dict[str, list[float]] = {}
    with Processes(workdir) as processes:
        servers = _start_all(processes, workdir, path)
        case = _case(workdir, path, servers["jwtseal"], connections)
        for server in servers.values():
            check_case(server, case)
            run_wrk(server.base_url, case, 2, CLIENT_CPU, _pids(server))  # warm-up
        names = list(servers)
        for round_index in range(rounds):
            floors.append(FLOORS[path](sys.executable, SERVER_CPU, 2.0).per_cpu_second)
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                sample = run_wrk(servers[name].base_url, case, seconds, CLIENT_CPU, _pids(servers[name]))
                rates.setdefault(name, []).append(sample.per_cpu_second)
            print(f"  round {round_index + 1}/{rounds} done", flush=True)
    return floors, rates


def _report(path: str, floors: list[float], rates: dict[str, list[float]]) -> None:
    best_floor, median_floor = max(floors), statistics.median(floors)
    operation = "sign" if path == "encode" else "verify"
    print(f"\nPOST /{path} RS256")
    floor = f"best {best_floor:,.0f}/CPU-s, median {median_floor:,.0f}"
    print(f"floor: cryptography RSA-2048 {operation}, {floor}")
    print(f"{'server':<10} {'best /CPU-s':>12} {'of floor':>9} {'median':>9} {'of floor':>9}")
    for name, values in rates.items():
        best, median = max(values), statistics.median(values)
        best_share, median_share = best / best_floor, median / median_floor
        print(f"{name:<10} {best:>12,.0f} {best_share:>9.1%} {median:>9,.0f} {median_share:>9.1%}")
    jwtseal, essential = rates["jwtseal"], rates["essential"]
    best = max(jwtseal) / max(essential)
    median = statistics.median(jwtseal) / statistics.median(essential)
    print(f"jwtseal of essential: best {best:.1%}, median {median:.1%}")


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument(
        "--path", choices=("encode", "decode"), default="encode", help="the endpoint [default: encode]"
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds [default: 5]")
    parser.add_argument("--seconds", type=int, default=4, help="seconds of wrk per server per round [4]")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections [default: 8]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jwtseal-ceiling-") as tmp:
        floors, rates = _measure(Path(tmp), args.path, args.connections, args.rounds, args.seconds)
    _report(args.path, floors, rates)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
