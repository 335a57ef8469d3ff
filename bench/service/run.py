"""Service benchmark: jwtseal against the original Node stack and a typical FastAPI peer.

    .venv/bin/python bench/service/run.py [--quick] [--json PATH] [--profile DIR]

Each server in turn is started on 127.0.0.1, pinned to core 0, and driven by
wrk pinned to core 1; see bench/SERVICE.md for what is measured and how to
read it. Every process the bench starts is stopped by PID at the end, also on
errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any

import kinds
import procs
from kinds import API_KEY, JWKS_PATH, KINDS, Config, Kind
from load import Case, Sample, run_wrk
from procs import Processes, Server
from report import extras, ratios_table, results_table, targets_table, to_json
from results import (
    DECODE_32,
    DECODE_OWN,
    DECODE_REMOTE,
    JWKS,
    CaseResult,
    RunResult,
    ServerResult,
)
from startup import cold_start, sign_floor

SERVER_CPU = 0
CLIENT_CPU = 1
TOKEN_POOL = 256  # distinct tokens cycled by /decode cases: more than a verified-token cache would hold
GROCERY_LIST = {"groceryList": ["milk", "eggs", "healthy stuff"]}
PY_SPY = kinds.ROOT / ".venv" / "bin" / "py-spy"


@dataclass(frozen=True)
class Settings:
    warmup: int  # seconds of wrk before the first round of each case
    duration: int  # seconds per measured round
    rounds: int
    connections: int
    p99_connections: int
    cold_runs: int
    sign_seconds: float
    servers: tuple[str, ...]
    profile_dir: Path | None = None

    def estimate_seconds(self) -> float:
        cases = 6 * len(self.servers)
        return (
            cases * (self.warmup + self.rounds * self.duration) + 12 * len(self.servers) + 4 * self.cold_runs
        )


DEFAULT = Settings(
    warmup=2, duration=6, rounds=2, connections=8, p99_connections=32, cold_runs=5, sign_seconds=3.0,
    servers=tuple(KINDS),
)  # fmt: skip
QUICK = replace(DEFAULT, warmup=1, duration=2, rounds=1, cold_runs=2, sign_seconds=1.0)


@dataclass(frozen=True)
class Bodies:
    encode: Path
    decode_own: Path
    decode_remote: Path


def parse_args(argv: list[str] | None = None) -> tuple[Settings, Path | None]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s per case: a smoke run (< 2 min)")
    parser.add_argument("--json", type=Path, help="also write every sample and verdict as JSON")
    parser.add_argument("--rounds", type=int, help="measured rounds per case [default: 2]")
    parser.add_argument("--duration", type=int, help="seconds per measured round [default: 6]")
    parser.add_argument("--connections", type=int, help="wrk connections [default: 8; p99 case: 32]")
    parser.add_argument(
        "--servers", default=",".join(KINDS), help="comma-separated subset of: " + ", ".join(KINDS)
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="after the rounds, profile jwtseal per case with py-spy"
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else DEFAULT
    chosen = tuple(name.strip() for name in args.servers.split(",") if name.strip())
    unknown = set(chosen) - set(KINDS)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    settings = replace(
        settings,
        servers=chosen,
        rounds=args.rounds or settings.rounds,
        duration=args.duration or settings.duration,
        connections=args.connections or settings.connections,
        profile_dir=args.profile,
    )
    return settings, args.json


def mint_tokens(server: Server, count: int) -> list[str]:
    """Tokens signed by ``server`` through its own POST /encode."""
    tokens = []
    for _ in range(count):
        status, body = procs.request(server.port, "POST", "/encode", GROCERY_LIST, headers=_bearer())
        if status != 200:
            raise RuntimeError(f"{server.name}: POST /encode answered {status}: {body!r}")
        tokens.append(body["token"])
    return tokens


def _bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


def write_lines(path: Path, bodies: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(body, separators=(",", ":")) + "\n" for body in bodies))
    return path


def post(key: str, label: str, bodies: Path, headers: dict[str, str], connections: int) -> Case:
    return Case(key, label, "POST", label.split()[1], bodies, headers, connections)


def make_cases(settings: Settings, bodies: Bodies, algorithm: str) -> list[Case]:
    """The cases of one phase: everything on RS256 keys, only /encode on ES256 keys."""
    json_only = {"Content-Type": "application/json"}
    conns = settings.connections
    encode = post(
        f"encode-{algorithm}", f"POST /encode {algorithm}", bodies.encode, {**json_only, **_bearer()}, conns
    )
    if algorithm != "RS256":
        return [encode]
    own, remote, many = bodies.decode_own, bodies.decode_remote, settings.p99_connections
    return [
        Case(JWKS, "GET /.well-known/jwks.json", "GET", JWKS_PATH, connections=conns),
        encode,
        post(DECODE_OWN, "POST /decode own keys", own, json_only, conns),
        post(DECODE_REMOTE, "POST /decode cached remote JWKS", remote, json_only, conns),
        post(DECODE_32, f"POST /decode own, {many} conns", own, json_only, many),
    ]


def check_case(server: Server, case: Case) -> None:
    """One request of the case must succeed before wrk sends thousands of them.

    Raises:
        RuntimeError: the server did not answer 200 (with claims, for /decode).
    """
    body = json.loads(case.bodies.read_text().splitlines()[0]) if case.bodies else None
    status, answer = procs.request(server.port, case.method, case.path, body, headers=case.headers)
    verified = case.path != "/decode" or (isinstance(answer, dict) and "groceryList" in answer)
    if status != 200 or not verified:
        raise RuntimeError(f"{server.name}: {case.label} answered {status}: {answer!r:.300}")


def measure(server: Server, cases: list[Case], settings: Settings) -> dict[str, list[Sample]]:
    """Interleaved rounds: each round runs every case once, in a rotated order."""
    for case in cases:
        check_case(server, case)
    pids = [server.pid, *procs.children(server.pid)]
    samples: dict[str, list[Sample]] = {case.key: [] for case in cases}
    for round_index in range(settings.rounds):
        shift = round_index % len(cases)
        for case in cases[shift:] + cases[:shift]:
            if round_index == 0:
                run_wrk(server.base_url, case, settings.warmup, CLIENT_CPU, pids)
            sample = run_wrk(server.base_url, case, settings.duration, CLIENT_CPU, pids)
            samples[case.key].append(sample)
            print(
                f"  {server.name:<22} {case.label:<34} {sample.rps:>9,.0f} req/s  p99 {sample.p99_ms:6.2f} ms"
                f"  errors {sample.errors}  cpu {sample.cpu_share:.0%}",
                flush=True,
            )
    return samples


def profile_cases(server: Server, cases: list[Case], settings: Settings, tag: str) -> None:
    """Record py-spy collapsed stacks of each case into the profile dir (not used for the table)."""
    assert settings.profile_dir is not None
    settings.profile_dir.mkdir(parents=True, exist_ok=True)
    for case in cases:
        output = settings.profile_dir / f"{tag}-{case.key}.txt"
        seconds = max(settings.duration, 4)
        spy = [str(PY_SPY), "record", "--pid", str(server.pid), "--duration", str(seconds), "--rate", "250"]
        spy += ["--nonblocking", "--format", "raw", "--output", str(output)]
        recorder = subprocess.Popen(
            procs.pinned(CLIENT_CPU, spy), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            time.sleep(0.3)
            run_wrk(server.base_url, case, seconds, CLIENT_CPU, [server.pid])
            recorder.wait(timeout=seconds + 30)
        finally:
            if recorder.poll() is None:
                recorder.kill()
                recorder.wait()
        print(f"  profiled {case.label} -> {output}", flush=True)


@dataclass(frozen=True)
class Restart:
    """What a cold start of jwtseal needs: its RS256 data dir and a token its keys signed."""

    data_dir: Path
    token: str


def phase_cases(
    server: Server,
    algorithm: str,
    *,
    origin: Server,
    remote_tokens: list[str],
    workdir: Path,
    settings: Settings,
) -> list[Case]:
    """The cases of one phase, with their request bodies written to ``workdir``."""
    encode = write_lines(workdir / "encode.jsonl", [GROCERY_LIST])
    if algorithm != "RS256":
        return make_cases(settings, Bodies(encode, encode, encode), algorithm)
    remote_uri = origin.base_url + JWKS_PATH
    own = [{"token": token} for token in mint_tokens(server, TOKEN_POOL)]
    remote = [{"token": token, "jwksUri": remote_uri} for token in remote_tokens]
    bodies = Bodies(
        encode,
        write_lines(workdir / f"{server.name}-own.jsonl", own),
        write_lines(workdir / f"{server.name}-remote.jsonl", remote),
    )
    return make_cases(settings, bodies, algorithm)


def bench_server(
    kind: Kind, processes: Processes, workdir: Path, settings: Settings, run: RunResult
) -> Restart | None:
    """Both phases of one server kind: everything on RS256 keys, then /encode on ES256 keys."""
    print(f"\n== {kind.label}", flush=True)
    result = run.servers.setdefault(kind.name, ServerResult(kind.label))
    origin_config = Config(procs.free_port(), "RS256", workdir / f"{kind.name}-origin")
    origin = processes.start(f"{kind.name}-origin", kind.launch(origin_config), CLIENT_CPU, JWKS_PATH)
    remote_tokens = mint_tokens(origin, TOKEN_POOL)
    restart = None
    for algorithm in ("RS256", "ES256"):
        data_dir = workdir / f"{kind.name}-{algorithm}"
        config = Config(procs.free_port(), algorithm, data_dir, trusted=origin.base_url)
        server = processes.start(f"{kind.name}-{algorithm}", kind.launch(config), SERVER_CPU, JWKS_PATH)
        cases = phase_cases(
            server, algorithm, origin=origin, remote_tokens=remote_tokens, workdir=workdir, settings=settings
        )
        for key, samples in measure(server, cases, settings).items():
            case = next(case for case in cases if case.key == key)
            result.cases[key] = CaseResult(case.label, case.connections, samples)
        result.rss_mb[algorithm] = max(procs.rss_mb(pid) for pid in [server.pid, *procs.children(server.pid)])
        if settings.profile_dir is not None and kind.name == "jwtseal":
            profile_cases(server, cases, settings, algorithm)
        own = next((case.bodies for case in cases if case.key == DECODE_OWN), None)
        if own is not None:
            restart = Restart(data_dir, json.loads(own.read_text().splitlines()[0])["token"])
        processes.stop(server)
    processes.stop(origin)
    return restart


def measure_cold_start(processes: Processes, restart: Restart, settings: Settings, run: RunResult) -> None:
    """Restart jwtseal on its existing keys and time the first answered /decode."""
    config = Config(procs.free_port(), "RS256", restart.data_dir)
    print("\n== cold start", flush=True)
    run.cold = cold_start(
        processes, KINDS["jwtseal"].launch(config), SERVER_CPU, restart.token, settings.cold_runs
    )


def measure_floor(settings: Settings, run: RunResult) -> None:
    floor = sign_floor(sys.executable, SERVER_CPU, settings.sign_seconds)
    run.sign_floor.append(floor)
    print(f"  cryptography RSA-2048 sign on core {SERVER_CPU}: {floor.rps:,.0f}/s", flush=True)


def environment() -> dict[str, Any]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "node": node}


def check_tools(settings: Settings) -> None:
    """Fail early, with a clear message, when the machine lacks what the run needs."""
    needed = ["wrk", "taskset"] + (["node", "npm"] if "node" in settings.servers else [])
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        sys.exit(f"missing tools: {', '.join(missing)}")
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs two cores: the server on core 0, wrk on core 1")
    if settings.profile_dir is not None and not PY_SPY.exists():
        sys.exit("--profile needs py-spy: .venv/bin/pip install py-spy")


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_all(settings: Settings, workdir: Path, run: RunResult) -> None:
    with Processes(workdir) as processes:
        print("\n== raw signing floor", flush=True)
        measure_floor(settings, run)
        restart = None
        for name in settings.servers:
            done = bench_server(KINDS[name], processes, workdir, settings, run)
            restart = done if name == "jwtseal" else restart
        measure_floor(settings, run)
        if restart is not None:
            measure_cold_start(processes, restart, settings, run)


def _finite(value: Any) -> Any:
    """JSON has no NaN: missing figures become null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def main(argv: list[str] | None = None) -> int:
    settings, json_path = parse_args(argv)
    check_tools(settings)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored (&)
    os.sched_setaffinity(0, {CLIENT_CPU})  # the bench itself stays off the server's core
    if "node" in settings.servers:
        kinds.ensure_node_modules()
    if "fastapi" in settings.servers:
        kinds.ensure_peer_venv()
    started, load_before = time.monotonic(), os.getloadavg()
    print(
        f"servers on core {SERVER_CPU}, wrk on core {CLIENT_CPU};"
        f" {settings.rounds} round(s) of {settings.duration} s per case after {settings.warmup} s warm-up;"
        f" {settings.connections} connections"
        f" (p99 case: {settings.p99_connections}); estimated {settings.estimate_seconds() / 60:.1f} min;"
        f" load average {load_before[0]:.2f}",
        flush=True,
    )
    run = RunResult()
    try:
        with tempfile.TemporaryDirectory(prefix="jwtseal-service-bench-") as tmp:
            run_all(settings, Path(tmp), run)
    except KeyboardInterrupt:
        print("\ninterrupted: every server was stopped", file=sys.stderr)
        return 130
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()
    print(f"\n== results ({elapsed / 60:.1f} min; load average {load_before[0]:.2f} -> {load_after[0]:.2f})")
    print(results_table(run), ratios_table(run), extras(run), targets_table(run), sep="\n\n")
    if json_path is not None:
        env = {**environment(), "load_before": load_before, "load_after": load_after, "seconds": elapsed}
        config = {
            key: str(value) if isinstance(value, Path) else value for key, value in vars(settings).items()
        }
        json_path.write_text(json.dumps(_finite(to_json(run, config, env)), indent=2) + "\n")
        print(f"\nwrote {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
