"""jwtseal's cold start, and the raw RSA-2048 signing and verifying rates of ``cryptography``."""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from procs import Launch, Processes, pinned

FLOOR_LOOP = """
import json, sys, time
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
message = b"e" * 260  # about the signing input of a grocery-list token
pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
public, signature = key.public_key(), key.sign(message, pkcs1, sha256)
for _ in range(20):
    OPERATION
seconds, count = float(sys.argv[1]), 0
wall0, cpu0 = time.perf_counter(), time.process_time()
while (wall := time.perf_counter() - wall0) < seconds:
    for _ in range(25):
        OPERATION
    count += 25
print(json.dumps({"ops": count, "wall": wall, "cpu": time.process_time() - cpu0}))
"""
OPERATIONS = {
    "sign": "key.sign(message, pkcs1, sha256)",
    "verify": "public.verify(signature, message, pkcs1, sha256)",  # raises unless it verifies
}


@dataclass(frozen=True)
class SignFloor:
    """RSA-2048 PKCS#1 v1.5 SHA-256 signatures (or verifications) per second in a tight loop on one core."""

    ops: int
    wall: float
    cpu: float

    @property
    def rps(self) -> float:
        return self.ops / self.wall

    @property
    def per_cpu_second(self) -> float:
        return self.ops / self.cpu


@dataclass(frozen=True)
class ColdStart:
    bare_python_ms: list[float]  # python -c pass
    import_ms: list[float]  # python -c "import jwtseal"
    first_decode_ms: list[float]  # jwtseal serve started -> first 200 from POST /decode


def sign_floor(python: str, cpu: int, seconds: float) -> SignFloor:
    """``cryptography``'s ``key.sign`` in a tight loop: the /encode RS256 floor."""
    return _floor(python, cpu, seconds, "sign")


def verify_floor(python: str, cpu: int, seconds: float) -> SignFloor:
    """``cryptography``'s ``public_key.verify`` of one signature in a tight loop: the /decode RS256 floor."""
    return _floor(python, cpu, seconds, "verify")


def _floor(python: str, cpu: int, seconds: float, operation: str) -> SignFloor:
    loop = FLOOR_LOOP.replace("OPERATION", OPERATIONS[operation])
    argv = pinned(cpu, [python, "-c", loop, str(seconds)])
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60)
    return SignFloor(**json.loads(out.stdout))


def time_command(argv: list[str], runs: int) -> list[float]:
    """Wall milliseconds of each of ``runs`` runs of ``argv``."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def first_decode_ms(procs: Processes, launch: Launch, cpu: int, token: str, timeout: float = 30.0) -> float:
    """Milliseconds from starting the server to its first 200 answer to POST /decode.

    Raises:
        RuntimeError: no 200 within ``timeout``.
    """
    body = json.dumps({"token": token}).encode()
    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    server = procs.start_unwaited("cold-start", launch, cpu)
    try:
        while time.perf_counter() - started < timeout:
            if _decode_ok(launch.port, body, headers):
                return (time.perf_counter() - started) * 1000
            if server.process.poll() is not None:
                break
            time.sleep(0.002)
        raise RuntimeError(f"no answer from POST /decode:\n{server.log_tail()}")
    finally:
        procs.stop(server)


def _decode_ok(port: int, body: bytes, headers: dict[str, str]) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("POST", "/decode", body=body, headers=headers)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def cold_start(procs: Processes, launch: Launch, cpu: int, token: str, runs: int) -> ColdStart:
    python = sys.executable
    return ColdStart(
        bare_python_ms=time_command(pinned(cpu, [python, "-c", "pass"]), runs),
        import_ms=time_command(pinned(cpu, [python, "-c", "import jwtseal"]), runs),
        first_decode_ms=[first_decode_ms(procs, launch, cpu, token) for _ in range(runs)],
    )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
