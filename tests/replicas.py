"""`jwtseal serve` replicas on one PostgreSQL database, as real processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from jwtseal.keyset import KeySet, from_document
from jwtseal.stores.postgres import PostgresKeyStore
from jwtseal.wrapping import KeyEncryptionKeys
from tests.servers import free_port

API_KEY = "replica-api-key-0123456789"
T = TypeVar("T")


def replica_environ(url: str, kek: str, data_dir: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWTSEAL_", "PROMETHEUS_"))}
    env.update(
        JWTSEAL_STORE=url,
        JWTSEAL_KEY_ENCRYPTION_KEY=kek,
        JWTSEAL_API_KEYS=API_KEY,
        JWTSEAL_ALGORITHM="ES256",
        JWTSEAL_ISSUER="https://tokens.example",
        JWTSEAL_DATA_DIR=str(data_dir),
        **more,
    )
    return env


@dataclass
class Replica:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def encode(self, claims: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            self.url + "/encode", json=claims, headers={"authorization": f"Bearer {API_KEY}"}, timeout=10
        )

    def decode(self, token: str) -> httpx.Response:
        return httpx.post(self.url + "/decode", json={"token": token}, timeout=10)

    def jwks(self) -> dict[str, Any]:
        document: dict[str, Any] = self.get("/.well-known/jwks.json").json()
        return document


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 60) -> T:
    """Poll ``check`` until it returns something; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except httpx.TransportError:
            found = None
        if found is not None and found is not False:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@contextmanager
def replica(root: Path, name: str, env: dict[str, str], *, ready: bool = True) -> Iterator[Replica]:
    """One `jwtseal serve --workers 1`; SIGTERM and wait at the end."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    log = root / f"{name}.log"
    command = [sys.executable, "-m", "jwtseal", "serve", "--port", str(port), "--workers", "1"]
    with log.open("wb") as stream:
        process = subprocess.Popen(command, env=env, stdout=stream, stderr=stream)
    running = Replica(f"http://127.0.0.1:{port}", process, log)
    try:
        if ready:
            wait_for(lambda: running.get("/readyz").status_code == 200, f"{name} to be ready")
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


@contextmanager
def replicas(root: Path, count: int, env_for: Callable[[Path], dict[str, str]]) -> Iterator[list[Replica]]:
    with ExitStack() as stack:
        yield [
            stack.enter_context(replica(root, f"replica-{n}", env_for(root / f"data-{n}")))
            for n in range(count)
        ]


def jwtseal_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jwtseal", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stored_keyset(url: str, kek: str) -> KeySet:
    store = PostgresKeyStore(url)
    try:
        return from_document(store.load(), KeyEncryptionKeys.parse(kek))
    finally:
        store.close()


def published_kids(jwks: dict[str, Any]) -> list[str]:
    return [key["kid"] for key in jwks["keys"]]


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
