"""FastAPI guards compared: requests per second through a real app under uvicorn, one worker, one core.

    .venv/bin/python bench/integrations/run.py [--quick] [--rounds N] [--duration S] [--connections C]

The same FastAPI app (``apps.py`` beside this file) runs once per guard:
jwtseal's ``BearerGuard``, auth0-fastapi-api's ``require_auth``, and the
hand-written ``PyJWKClient`` + ``jwt.decode`` dependency most FastAPI apps
use. Each runs under uvicorn (one worker, uvloop, httptools) pinned to core 0
in one venv (FastAPI and uvicorn alike for all; made once in the temporary
directory from ``requirements.txt``), fetching its JWKS once from an origin
on 127.0.0.1 and serving every request from its cache. wrk, pinned to core 1,
sends ``GET /me`` with 256 distinct RS256 tokens in turn, in interleaved
rounds, and the table gives each guard's best and median requests per
second and jwtseal's ratio to it. A benchmark, not a test: every process it
starts is stopped by PID at the end, also on errors.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from jwtseal import SigningKey

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "bench" / "service"))
from procs import cpu_seconds, free_port, pinned  # noqa: E402

GUARDS = ("jwtseal", "auth0", "pyjwt", "none")
LABELS = {
    "jwtseal": "jwtseal BearerGuard",
    "auth0": "auth0-fastapi-api require_auth",
    "pyjwt": "PyJWKClient + jwt.decode dependency",
    "none": "(no guard: FastAPI alone, reference)",
}
SERVER_CPU, CLIENT_CPU = 0, 1
TOKENS = 256
ISSUER, AUDIENCE = "https://issuer.example/", "api://groceries"
WRK_MARK = "WRK_JSON "


@dataclass(frozen=True)
class Sample:
    requests: int
    seconds: float
    p99_ms: float
    errors: int
    server_cpu: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def per_cpu_second(self) -> float:
        """Requests per second of the server's CPU: less sensitive to busy neighbours than ``rps``."""
        return self.requests / self.server_cpu if self.server_cpu else 0.0


def ensure_venv() -> Path:
    """The bench venv (requirements.txt plus jwtseal, editable), made again when either changes."""
    requirements = HERE / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    venv = Path(tempfile.gettempdir()) / f"jwtseal-bench-integrations-{digest[:12]}"
    python = venv / "bin" / "python"
    if (venv / ".ready").exists():
        return python
    print(f"setting up {venv} (pip install -r {requirements.relative_to(ROOT)} -e .) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(requirements), "-e", str(ROOT)], check=True)
    (venv / ".ready").write_text(digest)
    return python


class _OriginHandler(BaseHTTPRequestHandler):
    server: _OriginServer

    def do_GET(self) -> None:
        document = self.server.documents.get(self.path)
        body = json.dumps(document).encode() if document is not None else b"{}"
        self.send_response(200 if document is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=3600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.fetches += 1

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet."""


class _OriginServer(ThreadingHTTPServer):
    daemon_threads = True
    documents: dict[str, Any]
    fetches: int = 0


@contextmanager
def origin(key: SigningKey) -> Iterator[_OriginServer]:
    """The issuer's metadata and JWKS on 127.0.0.1 (auth0's fetches of https://issuer.example land here)."""
    server = _OriginServer(("127.0.0.1", 0), _OriginHandler)
    server.documents = {
        "/.well-known/openid-configuration": {
            "issuer": ISSUER,
            "jwks_uri": f"{ISSUER}.well-known/jwks.json",
        },
        "/.well-known/jwks.json": {"keys": [{**key.public.to_jwk(), "use": "sig"}]},
    }
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def mint_tokens(key: SigningKey, path: Path) -> list[str]:
    """256 distinct tokens, valid for an hour, each with every claim all three guards check."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = b64(json.dumps({"alg": "RS256", "kid": key.kid, "typ": "JWT"}).encode())
    tokens = []
    for index in range(TOKENS):
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"user-{index}",
            "iat": now,
            "exp": now + 3600,
            "scope": "lists:read lists:write",
        }
        signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
        tokens.append(f"{signing_input}.{b64(key.sign(signing_input.encode()))}")
    path.write_text("\n".join(tokens) + "\n")
    return tokens


@dataclass
class App:
    guard: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def started(python: Path, guard: str, origin_url: str, logs: Path) -> Iterator[App]:
    port = free_port()
    argv = [str(python), "-m", "uvicorn", "--factory", "apps:create_app", "--app-dir", str(HERE)]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools"]
    argv += ["--log-level", "warning", "--no-access-log"]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BENCH_", "PYTHONPATH"))}
    env.update(BENCH_GUARD=guard, BENCH_ORIGIN=origin_url)
    with (logs / f"{guard}.log").open("wb") as log:
        process = subprocess.Popen(
            pinned(SERVER_CPU, argv), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    app = App(guard, port, process)
    try:
        wait_ready(app, logs)
        yield app
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(app: App, logs: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise RuntimeError(f"{app.guard} exited:\n{(logs / f'{app.guard}.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{app.url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{app.guard} did not start")


def check(app: App, tokens: list[str]) -> None:
    """Every guard must accept a good token and refuse a missing one before it is measured.

    Raises:
        RuntimeError: the guard answered otherwise.
    """
    good = httpx.get(f"{app.url}/me", headers={"Authorization": f"Bearer {tokens[7]}"})
    missing = httpx.get(f"{app.url}/me")
    refused = app.guard == "none" or 400 <= missing.status_code < 500
    if good.status_code != 200 or good.json() != {"sub": "user-7"} or not refused:
        raise RuntimeError(
            f"{app.guard}: good token {good.status_code} {good.text}; none {missing.status_code}"
        )


def run_wrk(app: App, tokens_file: Path, seconds: int, connections: int) -> Sample:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    argv += ["-s", str(HERE / "requests.lua"), app.url, "--", "/me", str(tokens_file)]
    before = cpu_seconds(app.process.pid)
    result = subprocess.run(
        pinned(CLIENT_CPU, argv), check=False, capture_output=True, text=True, timeout=seconds + 60
    )
    used = cpu_seconds(app.process.pid) - before
    for line in result.stdout.splitlines():
        if line.startswith(WRK_MARK):
            raw = json.loads(line.removeprefix(WRK_MARK))
            errors = sum(raw[name] for name in ("connect", "read", "write", "status", "timeout"))
            return Sample(raw["requests"], raw["duration_us"] / 1e6, raw["p99_us"] / 1000, errors, used)
    raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout}\n{result.stderr}")


def measure(apps: list[App], tokens_file: Path, args: argparse.Namespace) -> dict[str, list[Sample]]:
    """Interleaved rounds: each round runs every guard once, in a rotated order."""
    samples: dict[str, list[Sample]] = {app.guard: [] for app in apps}
    for app in apps:
        run_wrk(app, tokens_file, args.warmup, args.connections)
    for round_index in range(args.rounds):
        shift = round_index % len(apps)
        for app in apps[shift:] + apps[:shift]:
            sample = run_wrk(app, tokens_file, args.duration, args.connections)
            samples[app.guard].append(sample)
            print(
                f"  round {round_index + 1}  {LABELS[app.guard]:<36} {sample.rps:>8,.0f} req/s"
                f"  p99 {sample.p99_ms:6.2f} ms  errors {sample.errors}"
                f"  cpu {sample.server_cpu / sample.seconds:.0%}",
                flush=True,
            )
    return samples


def table(samples: dict[str, list[Sample]]) -> str:
    best = {guard: max(sample.rps for sample in rows) for guard, rows in samples.items()}
    per_cpu = {guard: max(sample.per_cpu_second for sample in rows) for guard, rows in samples.items()}
    lines = [
        "| guard (FastAPI 0.165, uvicorn 0.55, 1 worker, 1 core) | best req/s | median req/s "
        "| p99 ms (best round) | errors | jwtseal is | req per CPU-s (best) | jwtseal is, per CPU-s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for guard, rows in samples.items():
        top = max(rows, key=lambda sample: sample.rps)
        median = statistics.median(sample.rps for sample in rows)
        errors = sum(sample.errors for sample in rows)
        cells = [
            LABELS[guard],
            f"{best[guard]:,.0f}",
            f"{median:,.0f}",
            f"{top.p99_ms:.2f}",
            str(errors),
            _ratio(guard, best),
            f"{per_cpu[guard]:,.0f}",
            _ratio(guard, per_cpu),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ratio(guard: str, figures: dict[str, float]) -> str:
    """How many times the figure of ``guard`` jwtseal's is; none for jwtseal and the unguarded reference."""
    return "-" if guard in ("jwtseal", "none") else f"{figures['jwtseal'] / figures[guard]:.2f}x"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s: a smoke run")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds [default: 3]")
    parser.add_argument("--duration", type=int, default=5, help="seconds per guard per round [default: 5]")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk per guard first [default: 2]")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections [default: 8]")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 2, 1
    return args


def main() -> None:
    args = parse_args()
    python = ensure_venv()
    key = SigningKey.generate("RS256")
    with tempfile.TemporaryDirectory(prefix="jwtseal-bench-integrations-") as workdir, origin(key) as server:
        tokens_file = Path(workdir) / "tokens.txt"
        tokens = mint_tokens(key, tokens_file)
        origin_url = f"http://127.0.0.1:{server.server_address[1]}"
        with ExitStack() as stack:
            apps = [
                stack.enter_context(started(python, guard, origin_url, Path(workdir))) for guard in GUARDS
            ]
            for app in apps:
                check(app, tokens)
            samples = measure(apps, tokens_file, args)
        print(f"\norigin fetches in all (metadata and JWKS, all guards): {server.fetches}\n")
    print(table(samples))


if __name__ == "__main__":
    main()
