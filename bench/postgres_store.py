"""/encode and /decode on the PostgreSQL store against the file store, in one run.

    .venv/bin/python bench/postgres_store.py [--seconds 6] [--rounds 3]

Starts a PostgreSQL of its own on 127.0.0.1 (as tests/postgres_fixtures.py
does: initdb in a temporary directory, as the ``postgres`` user when root),
then two ``jwtseal serve --workers 1`` on core 0: one on the file store, one
on the PostgreSQL store with a key-encryption key. wrk (bench/service's
requests.lua) drives each from core 1, alternating file, postgres, file,
postgres... so drift on a shared machine hits both alike. The database is
not on the hot path: a replica reads it from a background task once a second.
Every process started here is stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench" / "service")]

from load import Case, Sample, run_wrk  # noqa: E402
from procs import free_port, pinned  # noqa: E402
from tests.postgres_fixtures import running_postgres  # noqa: E402

from jwtseal.wrapping import KeyEncryptionKeys  # noqa: E402

SERVER_CPU, CLIENT_CPU = 0, 1
API_KEY = "bench-api-key-0123456789"
TOKENS = 256
CLAIMS = {"groceryList": ["milk", "eggs", "healthy stuff"]}


def start_server(name: str, env: dict[str, str], workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (workdir / f"{name}.log").open("wb")
    command = [sys.executable, "-m", "jwtseal", "serve", "--port", str(port), "--workers", "1"]
    with log:
        process = subprocess.Popen(pinned(SERVER_CPU, command), env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"{name} did not start: see {workdir / (name + '.log')}")
        time.sleep(0.1)


def write_bodies(url: str, workdir: Path, name: str) -> tuple[Path, Path]:
    encode = workdir / f"{name}-encode.txt"
    encode.write_text(json.dumps(CLAIMS) + "\n")
    auth = {"authorization": f"Bearer {API_KEY}"}
    with httpx.Client() as client:
        tokens = [
            client.post(url + "/encode", json={"sub": f"user-{n}"}, headers=auth).json()["token"]
            for n in range(TOKENS)
        ]
    decode = workdir / f"{name}-decode.txt"
    decode.write_text("".join(json.dumps({"token": token}) + "\n" for token in tokens))
    return encode, decode


def measure(url: str, case: Case, seconds: int, pid: int) -> Sample:
    sample = run_wrk(url, case, seconds, CLIENT_CPU, [pid])
    if sample.errors:
        raise RuntimeError(f"{case.key} on {url}: {sample.errors} errors")
    return sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith("JWTSEAL_")}
    base.update(JWTSEAL_API_KEYS=API_KEY, JWTSEAL_ALGORITHM="RS256")
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="jwtseal-bench-pg-") as temp, running_postgres() as postgres:
        workdir = Path(temp)
        kek = KeyEncryptionKeys.generate()
        envs = {
            "file": {**base, "JWTSEAL_DATA_DIR": str(workdir / "file")},
            "postgres": {
                **base,
                "JWTSEAL_DATA_DIR": str(workdir / "pg"),
                "JWTSEAL_STORE": postgres.new_database(),
                "JWTSEAL_KEY_ENCRYPTION_KEY": kek,
            },
        }
        try:
            servers = {}
            for name, env in envs.items():
                process, url = start_server(name, env, workdir)
                processes.append(process)
                encode, decode = write_bodies(url, workdir, name)
                servers[name] = (process.pid, url, encode, decode)
            results: dict[tuple[str, str], list[Sample]] = {}
            for round_number in range(args.rounds):
                order = list(servers.items())
                order = order if round_number % 2 == 0 else order[::-1]  # who goes first alternates
                for key in ("encode", "decode"):
                    for name, (pid, url, encode, decode) in order:
                        headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
                        bodies = encode if key == "encode" else decode
                        case = Case(key, key, "POST", f"/{key}", bodies, headers if key == "encode" else {})
                        results.setdefault((key, name), []).append(measure(url, case, args.seconds, pid))
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
    print(f"RS256, {args.rounds} rounds x {args.seconds} s, server on core 0, wrk on core 1 (medians)")
    print("| case | file req/s | PostgreSQL req/s | ratio | file req/CPU-s | PostgreSQL req/CPU-s | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key in ("encode", "decode"):
        file_samples, pg_samples = results[(key, "file")], results[(key, "postgres")]
        file_rps = statistics.median(sample.rps for sample in file_samples)
        pg_rps = statistics.median(sample.rps for sample in pg_samples)
        file_cpu = statistics.median(sample.per_cpu_second for sample in file_samples)
        pg_cpu = statistics.median(sample.per_cpu_second for sample in pg_samples)
        print(
            f"| /{key} | {file_rps:,.0f} | {pg_rps:,.0f} | {pg_rps / file_rps:.3f} "
            f"| {file_cpu:,.0f} | {pg_cpu:,.0f} | {pg_cpu / file_cpu:.3f} |"
        )


if __name__ == "__main__":
    main()
