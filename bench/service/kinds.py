"""The three servers under test, how each starts, and the one-time setup of the peers."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from procs import Launch

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "bench" / "peers"
NODE_DIR = PEERS / "node"
PEER_VENV = ROOT / "bench" / ".peer-venv"
PEER_REQUIREMENTS = PEERS / "requirements.txt"
JWTSEAL_BIN = ROOT / ".venv" / "bin" / "jwtseal"
API_KEY = "bench-api-key-0123456789abcdef"
JWKS_PATH = "/.well-known/jwks.json"


@dataclass(frozen=True)
class Config:
    """One server instance: where it listens, what it signs with, which remote JWKS it trusts."""

    port: int
    algorithm: str
    data_dir: Path
    trusted: str | None = None  # a URI prefix /decode may fetch
    workers: int = 1

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    launch: Callable[[Config], Launch]


def jwtseal_launch(config: Config) -> Launch:
    argv = [str(JWTSEAL_BIN), "serve", "--host", "127.0.0.1", "--port", str(config.port)]
    argv += ["--workers", str(config.workers), "--data-dir", str(config.data_dir)]
    env = {"JWTSEAL_API_KEYS": API_KEY, "JWTSEAL_ALGORITHM": config.algorithm}
    if config.trusted:
        env["JWTSEAL_TRUSTED_JWKS_URIS"] = config.trusted
    return Launch(config.port, argv, env)


def node_launch(config: Config) -> Launch:
    env = {"HOST": "127.0.0.1", "PORT": str(config.port), "ALGORITHM": config.algorithm}
    if config.trusted:
        env["TRUSTED_JWKS_URIS"] = config.trusted
    return Launch(config.port, ["node", "server.js"], env, cwd=NODE_DIR)


def fastapi_launch(config: Config) -> Launch:
    argv = [str(PEER_VENV / "bin" / "python"), "-m", "uvicorn", "fastapi_peer:app"]
    argv += ["--app-dir", str(PEERS), "--host", "127.0.0.1", "--port", str(config.port)]
    env = {"PEER_ISSUER": config.base_url, "PEER_ALGORITHM": config.algorithm, "PEER_API_KEY": API_KEY}
    if config.trusted:
        env["PEER_TRUSTED_JWKS_URIS"] = config.trusted
    return Launch(config.port, argv, env)


KINDS: dict[str, Kind] = {
    "jwtseal": Kind("jwtseal", "jwtseal", jwtseal_launch),
    "node": Kind("node", "node original", node_launch),
    "fastapi": Kind("fastapi", "fastapi peer", fastapi_launch),
}


def ensure_node_modules() -> None:
    """``npm ci`` when node_modules is missing or older than the lock file."""
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    print("setting up bench/peers/node (npm ci) ...", flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)


def ensure_peer_venv() -> None:
    """Create bench/.peer-venv with the FastAPI peer's requirements, again when they change."""
    stamp = PEER_VENV / ".requirements.sha256"
    digest = hashlib.sha256(PEER_REQUIREMENTS.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    print("setting up bench/.peer-venv (pip install -r bench/peers/requirements.txt) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
    pip = [
        str(PEER_VENV / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, "-r", str(PEER_REQUIREMENTS)], check=True)
    stamp.write_text(digest)
