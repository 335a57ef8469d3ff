"""The wheel and the sdist install into fresh venvs outside the repository, and work there.

Both are built from this checkout with ``python -m build`` and installed
offline from ``.venv/wheelhouse`` (the run-time wheels ``scripts/setup``
keeps), so nothing here reaches a package index. Each venv runs the command
line and the service as a user would.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import jwtseal
from tests.servers import free_port, wait_until_up

ROOT = Path(__file__).parent.parent
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"
TIMEOUT = 300
# The library tests an unpacked sdist runs against the package built from it.
SDIST_SUBSET = ("tests/test_api_surface.py", "tests/test_keyring.py")


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without jwtseal settings or coverage's hooks."""
    dropped = ("JWTSEAL_", "COVERAGE_", "COV_CORE_", "PYTHONPATH")
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped)} | extra


def _run(*command: str | Path, stdin: str | None = None, cwd: Path | None = None, **env: str) -> str:
    """Run a command to completion; its stdout. Raises CalledProcessError with its stderr."""
    done = subprocess.run(
        [str(part) for part in command],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        env=_clean_env(**env),
        check=False,
    )
    assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    assert WHEELHOUSE.is_dir(), f"{WHEELHOUSE} is missing: run scripts/setup"
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT)
    (wheel,), (sdist,) = out.glob("*.whl"), out.glob("*.tar.gz")
    return Dist(wheel, sdist)


@dataclass(frozen=True)
class Venv:
    root: Path

    @property
    def jwtseal(self) -> Path:
        return self.root / "bin" / "jwtseal"

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def install(self, *requirements: str) -> None:
        """pip (this venv's) installs into it, from the wheelhouse only."""
        _run(
            sys.executable, "-m", "pip", "--python", self.python, "install", "--quiet",
            "--no-index", "--find-links", WHEELHOUSE, *requirements,
        )  # fmt: skip

    def site_packages(self) -> Path:
        return Path(_run(self.python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())


def _venv(tmp_path_factory: pytest.TempPathFactory, name: str, *requirements: str) -> Venv:
    root = tmp_path_factory.mktemp(name) / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", root)
    venv = Venv(root)
    venv.install(*requirements)
    return venv


@pytest.fixture(scope="module")
def library_venv(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return _venv(tmp_path_factory, "wheel-library", str(dist.wheel))


@pytest.fixture(scope="module")
def wheel_venv(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return _venv(tmp_path_factory, "wheel-server", f"{dist.wheel}[server]")


@pytest.fixture(scope="module")
def sdist_venv(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return _venv(tmp_path_factory, "sdist-server", f"{dist.sdist}[server]")


@contextmanager
def _serving(venv: Venv, data_dir: Path) -> Iterator[str]:
    """``jwtseal serve`` of ``venv`` on a free port, stopped with SIGTERM; yields its URL."""
    port = free_port()
    command = [str(venv.jwtseal), "serve", "--port", str(port), "--workers", "1", "--data-dir", str(data_dir)]
    log = data_dir.parent / "serve.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=_clean_env())
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0, log.read_text()


def _works_as_installed(venv: Venv, tmp_path: Path) -> None:
    """--version, sign piped into verify -, and serve answering the page and the JWKS."""
    assert _run(venv.jwtseal, "--version").split()[-1] == jwtseal.__version__
    origin = _run(venv.python, "-c", "import jwtseal; print(jwtseal.__file__)", cwd=tmp_path)
    assert Path(origin.strip()).is_relative_to(venv.root)
    data_dir = tmp_path / "data"
    token = _run(venv.jwtseal, "sign", "--claims", '{"groceryList": ["milk"]}', "--data-dir", data_dir)
    claims = _run(venv.jwtseal, "verify", "-", "--data-dir", data_dir, stdin=token)
    assert '"milk"' in claims
    with _serving(venv, data_dir) as url:
        page = httpx.get(f"{url}/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        jwks = httpx.get(f"{url}/.well-known/jwks.json").json()
        assert len(jwks["keys"]) >= 2
        assert all("d" not in key for key in jwks["keys"])


# -- what is in the files --------------------------------------------------


def test_wheel_ships_the_licence_the_page_and_py_typed(dist: Dist) -> None:
    names = zipfile.ZipFile(dist.wheel).namelist()
    version = jwtseal.__version__
    assert f"jwtseal-{version}.dist-info/licenses/LICENSE" in names
    assert {"jwtseal/py.typed", "jwtseal/http/static/index.html", "jwtseal/http/static/main.js"} <= set(names)
    assert not [name for name in names if name.startswith(("tests/", "docs/", "bench/", "infra/"))]


def test_sdist_ships_the_licence_the_tests_and_the_docs_without_node_modules(dist: Dist) -> None:
    prefix = f"jwtseal-{jwtseal.__version__}/"
    with tarfile.open(dist.sdist) as archive:
        names = {name.removeprefix(prefix) for name in archive.getnames()}
    assert {"LICENSE", "CHANGELOG.md", "SECURITY.md", "CONTRIBUTING.md", "mkdocs.yml"} <= names
    assert {"tests/conftest.py", "tests/servers.py", "tests/vectors/SOURCE.md", "docs/index.md"} <= names
    assert not [name for name in names if "node_modules" in name or "__pycache__" in name]


def test_metadata_declares_the_supported_pythons_and_the_extras(dist: Dist) -> None:
    metadata = zipfile.ZipFile(dist.wheel).read(f"jwtseal-{jwtseal.__version__}.dist-info/METADATA").decode()
    for version in ("3.11", "3.12", "3.13"):
        assert f"Classifier: Programming Language :: Python :: {version}\n" in metadata
    assert "Requires-Python: >=3.11\n" in metadata
    assert "License-Expression: MIT\n" in metadata
    assert {"Provides-Extra: server", "Provides-Extra: aws"} <= set(metadata.splitlines())
    assert "Provides-Extra: test" not in metadata  # developer tools live in dependency groups
    assert 'Requires-Dist: httptools>=0.6; extra == "server"' in metadata


# -- installed -------------------------------------------------------------


def test_library_only_install_leaves_the_server_out_and_serve_names_the_extra(
    library_venv: Venv, tmp_path: Path
) -> None:
    check = "import importlib.util, jwtseal; print(importlib.util.find_spec('httptools'))"
    assert _run(library_venv.python, "-c", check).strip() == "None"
    token = _run(library_venv.jwtseal, "sign", "--claims", "{}", "--data-dir", tmp_path / "data")
    assert _run(library_venv.jwtseal, "verify", "-", "--data-dir", tmp_path / "data", stdin=token)
    serve = subprocess.run(
        [library_venv.jwtseal, "serve", "--data-dir", tmp_path / "served"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_clean_env(),
        check=False,
    )
    assert serve.returncode == 1
    assert "missing_extra:" in serve.stderr
    assert "pip install 'jwtseal[server]'" in serve.stderr
    assert not (tmp_path / "served").exists()


def test_wheel_installs_outside_the_repository_and_signs_verifies_and_serves(
    wheel_venv: Venv, tmp_path: Path
) -> None:
    _works_as_installed(wheel_venv, tmp_path)


def test_sdist_installs_outside_the_repository_and_signs_verifies_and_serves(
    sdist_venv: Venv, tmp_path: Path
) -> None:
    _works_as_installed(sdist_venv, tmp_path)


def test_sdist_test_suite_collects_and_its_library_tests_pass_on_the_built_package(
    dist: Dist, sdist_venv: Venv, tmp_path: Path
) -> None:
    with tarfile.open(dist.sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    unpacked = tmp_path / f"jwtseal-{jwtseal.__version__}"
    built = str(sdist_venv.site_packages())  # the package built from the sdist, not this checkout
    where = "import jwtseal; print(jwtseal.__file__)"
    origin = _run(sys.executable, "-c", where, cwd=unpacked, PYTHONPATH=built)
    assert Path(origin.strip()).is_relative_to(built)
    pytest_command = (sys.executable, "-m", "pytest", "-p", "no:cacheprovider")
    collected = _run(*pytest_command, "--collect-only", "-q", cwd=unpacked, PYTHONPATH=built)
    summary = collected.strip().splitlines()[-1]  # "2849 tests collected in 14.47s": no error
    assert re.fullmatch(r"\d+ tests collected in [0-9.]+s", summary), summary
    assert int(summary.split()[0]) > 500
    passed = _run(*pytest_command, "-q", *SDIST_SUBSET, cwd=unpacked, PYTHONPATH=built)
    assert " passed" in passed.splitlines()[-1]
    assert "failed" not in passed.splitlines()[-1]


# -- the missing extra, in this checkout -----------------------------------


def test_serve_without_the_server_extra_exits_naming_it(tmp_path: Path) -> None:
    """As a library-only install runs it: ``httptools`` cannot be imported."""
    script = "import sys; sys.modules['httptools'] = None; from jwtseal.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", script, "serve", "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == "missing_extra: jwtseal serve needs httptools: pip install 'jwtseal[server]'\n"
    assert not (tmp_path / "data").exists()
