"""README's Python snippet runs as written, and its two commands exist."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"


def test_readme_library_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snippet = re.search(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert snippet is not None
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(snippet.group(1), "README.md", "exec"), namespace)
    assert namespace["claims"]["groceryList"] == ["milk", "eggs"]  # type: ignore[index]
    assert (tmp_path / ".jwtseal" / "keys.json").exists()


@pytest.mark.parametrize("command", ["./scripts/serve", "./scripts/test"])
def test_readme_commands_exist_and_are_executable(command: str) -> None:
    assert f"\n{command}\n" in README.read_text()
    assert os.access(README.parent / command, os.X_OK)


def test_ci_runs_the_readme_test_command() -> None:
    assert "scripts/test" in (README.parent / ".ci" / "run").read_text()
