"""The Lambda code: jwtseal and its dependencies, built for the Lambda platform without Docker.

Runtime and architecture: Python 3.13 on arm64 (Graviton). Arm64 Lambda
costs about 20% less per GB-second than x86_64 and signs as fast; every
dependency jwtseal needs at run time ships manylinux aarch64 wheels.

Bundling is local: ``pip install --target`` with ``--platform`` (the
manylinux tags the runtime's Amazon Linux 2023, glibc 2.34, accepts),
``--python-version 3.13``, ``--implementation cp`` and
``--only-binary=:all:``, so pip takes wheels built for Lambda whatever the
build machine is, and never compiles anything. jwtseal itself is pure
Python and is copied from ``src/``. boto3 is the runtime's own.

The asset hash is computed from the sources, the dependency list and the
target platform, so a synth with nothing changed reuses the bundle in
``cdk.out`` without calling pip. With ``bundle=False`` (context
``jwtseal:bundle=false``) the asset is the bare ``src/`` folder: synth then
needs no network at all, which is what the tests do; never deploy that.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

__all__ = ["ARCHITECTURE", "PLATFORMS", "PYTHON_VERSION", "RUNTIME", "LocalBundler", "lambda_code"]

RUNTIME: Final = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE: Final = lambda_.Architecture.ARM_64
PYTHON_VERSION: Final = "3.13"
PLATFORMS: Final = (
    "manylinux_2_34_aarch64",
    "manylinux_2_28_aarch64",
    "manylinux_2_17_aarch64",
    "manylinux2014_aarch64",
)
_SKIP: Final = shutil.ignore_patterns("__pycache__", "*.pyc")

Run = Callable[..., Any]


def requirements(project_root: Path) -> list[str]:
    """jwtseal's run-time dependencies, as its ``pyproject.toml`` declares them."""
    with (project_root / "pyproject.toml").open("rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


def _package_files(project_root: Path) -> list[Path]:
    package = project_root / "src" / "jwtseal"
    return sorted(path for path in package.rglob("*") if path.is_file() and "__pycache__" not in path.parts)


def bundle_hash(project_root: Path) -> str:
    """Changes when the sources, the dependency list or the target platform change."""
    digest = hashlib.sha256()
    for part in (PYTHON_VERSION, *PLATFORMS, *requirements(project_root)):
        digest.update(part.encode() + b"\0")
    for path in _package_files(project_root):
        digest.update(path.relative_to(project_root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@jsii.implements(cdk.ILocalBundling)
class LocalBundler:
    """Builds the bundle on this machine with pip: no Docker."""

    def __init__(
        self, project_root: Path, *, run: Run = subprocess.run, python: str = sys.executable
    ) -> None:
        self.project_root = project_root
        self._run = run
        self._python = python

    def command(self, output_dir: str) -> list[str]:
        platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
        return [
            self._python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--disable-pip-version-check",
            "--target",
            output_dir,
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            "--only-binary=:all:",
            *platforms,
            *requirements(self.project_root),
        ]

    def try_bundle(self, output_dir: str, options: Any = None) -> bool:
        """Install the dependencies, then copy jwtseal; a failure stops the synth (no Docker fallback).

        Raises:
            subprocess.CalledProcessError: pip failed (offline? use ``jwtseal:bundle=false``).
        """
        self._run(self.command(output_dir), check=True)
        target = Path(output_dir) / "jwtseal"
        shutil.copytree(self.project_root / "src" / "jwtseal", target, ignore=_SKIP, dirs_exist_ok=True)
        return True


def lambda_code(project_root: Path, *, bundle: bool, bundler: LocalBundler | None = None) -> lambda_.Code:
    """The one code asset of the three functions (the handler string picks the function)."""
    source = str(project_root / "src")
    skip = ["*.egg-info", "**/__pycache__"]
    if not bundle:
        return lambda_.Code.from_asset(source, exclude=skip)
    return lambda_.Code.from_asset(
        source,
        exclude=skip,
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=bundle_hash(project_root),
        bundling=cdk.BundlingOptions(
            image=RUNTIME.bundling_image,
            local=bundler or LocalBundler(project_root),  # type: ignore[arg-type]
            command=["false"],  # never reached: local bundling succeeds or fails the synth
        ),
    )
