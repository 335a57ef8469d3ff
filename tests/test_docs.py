"""The documentation and the code list the same endpoints, settings, commands and error codes.

The docs are the contract: what they list must exist, and what exists must
be listed, so no page claims more or less than the code does.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import click
import pytest

import jwtseal
from jwtseal.cli import main
from jwtseal.http.openapi import openapi_document
from jwtseal.http.page import PAGE_FILES
from jwtseal.http.problems import STATUS_BY_CODE
from jwtseal.settings import SETTINGS
from tests.conftest import RunningService

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "jwtseal"

_VARIABLE = re.compile(r"\bJWTSEAL_[A-Z0-9_]*[A-Z0-9]\b")
_ENDPOINT_ROW = re.compile(r"^\| `([A-Z]+) (/[^`]*)` \|", re.MULTILINE)
_ERROR_ROW = re.compile(r"^\| (\d{3}) \| `([a-z_]+)` \|", re.MULTILINE)
_COMMAND_HEADING = re.compile(r"^## (jwtseal [a-z ]+)$", re.MULTILINE)
_COMMAND_ROW = re.compile(r"^\| `(jwtseal [a-z ]+)` \|", re.MULTILINE)
_PROBLEM_CALL = re.compile(r'problem\(\s*(\d{3}),\s*"([a-z_]+)"')
_CLI_FAILURE = re.compile(r'click\.echo\(\s*f?"([a-z]+_[a-z_]+): ')
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_ALGORITHM = re.compile(r"`((?:RS|PS|ES)(?:256|384|512)|EdDSA)`")


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _contract_pages() -> dict[str, str]:
    return {path.name: _read(path) for path in sorted(DOCS.glob("*.md"))}


def _all_docs() -> str:
    return "\n".join(_contract_pages().values())


def _source() -> str:
    return "\n".join(_read(path) for path in sorted(SRC.rglob("*.py")))


def _code_variables() -> set[str]:
    """The settings table's variables (their names are built) and every other one the source names."""
    return {setting.variable for setting in SETTINGS} | set(_VARIABLE.findall(_source()))


# -- settings --------------------------------------------------------------


def test_every_variable_the_code_reads_is_documented_and_every_documented_one_exists() -> None:
    in_code = _code_variables()
    in_docs = set(_VARIABLE.findall(_all_docs()))
    assert {"JWTSEAL_DATA_DIR", "JWTSEAL_SECRET_ID", "JWTSEAL_KMS_KEY_RING"} <= in_code
    assert in_docs == in_code, {"undocumented": in_code - in_docs, "not in the code": in_docs - in_code}


def test_the_readme_names_no_variable_the_code_lacks() -> None:
    assert set(_VARIABLE.findall(_read(ROOT / "README.md"))) <= _code_variables()


def test_documented_algorithms_are_exactly_the_supported_ones() -> None:
    row = next(line for line in _read(DOCS / "settings.md").splitlines() if "`JWTSEAL_ALGORITHM`" in line)
    meaning = row.split(" | ")[1]
    assert tuple(_ALGORITHM.findall(meaning)) == jwtseal.SUPPORTED_ALGORITHMS


# -- endpoints -------------------------------------------------------------


def _documented_endpoints() -> set[tuple[str, str]]:
    return set(_ENDPOINT_ROW.findall(_read(DOCS / "http-api.md")))


def _code_endpoints() -> set[tuple[str, str]]:
    """Every route: the OpenAPI document's, the page's files, and the document itself."""
    paths = openapi_document(jwtseal.__version__)["paths"]
    found = {(method.upper(), path) for path, methods in paths.items() for method in methods}
    found |= {("GET", "/static/<file>" if path.startswith("/static/") else path) for path in PAGE_FILES}
    return found | {("GET", "/openapi.json")}


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    documented, code = _documented_endpoints(), _code_endpoints()
    assert documented == code, {"undocumented": code - documented, "not in the code": documented - code}


def test_every_documented_route_answers_on_a_running_service(running: RunningService) -> None:
    served = [(method, path) for method, path in _documented_endpoints() if path != "/static/<file>"]
    served += [("GET", path) for path in PAGE_FILES if path.startswith("/static/")]
    for method, path in served:
        response = running.client.request(method, path, json={} if method == "POST" else None)
        assert response.status_code not in (404, 405), (method, path, response.text)
    assert running.client.get("/no/such/path").json()["code"] == "not_found"


# -- error codes -----------------------------------------------------------


def _code_errors() -> set[tuple[int, str]]:
    """Every (status, code) the service can answer: the error tree's, the table's, and literal problems."""
    classes, stack = [], [jwtseal.JwtsealError]
    while stack:
        cls = stack.pop()
        classes.append(cls)
        stack.extend(cls.__subclasses__())
    found = {(STATUS_BY_CODE[cls.code], cls.code) for cls in classes}
    found |= {(status, code) for code, status in STATUS_BY_CODE.items()}
    return found | {(int(status), code) for status, code in _PROBLEM_CALL.findall(_source())}


def test_every_error_code_is_documented_with_its_status_and_nothing_more() -> None:
    documented = {(int(status), code) for status, code in _ERROR_ROW.findall(_read(DOCS / "http-api.md"))}
    code = _code_errors()
    assert documented == code, {"undocumented": code - documented, "not in the code": documented - code}


def test_every_command_line_failure_code_is_documented() -> None:
    failures = set(_CLI_FAILURE.findall(_read(SRC / "cli.py")))
    assert failures >= {"invalid_setting", "cannot_listen", "missing_extra"}
    cli_page = _read(DOCS / "cli.md") + _read(DOCS / "settings.md")
    assert {code for code in failures if f"`{code}:" not in cli_page} == set()


# -- commands --------------------------------------------------------------


def _code_commands(group: click.Group = main, prefix: str = "jwtseal") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= _code_commands(command, f"{prefix} {name}")
        else:
            found[f"{prefix} {name}"] = command
    return found


def _command_sections() -> dict[str, str]:
    page = _read(DOCS / "cli.md")
    headings = list(_COMMAND_HEADING.finditer(page))
    ends = [heading.start() for heading in headings[1:]] + [len(page)]
    return {heading.group(1): page[heading.end() : end] for heading, end in zip(headings, ends, strict=True)}


def test_every_command_has_a_section_and_every_section_a_command() -> None:
    sections, code = set(_command_sections()), set(_code_commands())
    assert sections == code, {"undocumented": code - sections, "not in the code": sections - code}
    assert set(_COMMAND_ROW.findall(_read(DOCS / "cli.md"))) == code


@pytest.mark.parametrize("name", sorted(_code_commands()))
def test_every_option_of_a_command_is_in_its_section(name: str) -> None:
    section = _command_sections()[name]
    options = [
        option
        for parameter in _code_commands()[name].params
        if isinstance(parameter, click.Option)
        for option in parameter.opts
        if option.startswith("--")
    ]
    assert [option for option in options if f"`{option}" not in section and f"[{option}" not in section] == []


def test_every_page_is_in_the_nav() -> None:
    nav = _read(ROOT / "mkdocs.yml")
    assert [path.name for path in sorted(DOCS.glob("*.md")) if f": {path.name}" not in nav] == []


# -- the README on the package index ---------------------------------------


def test_readme_links_are_absolute_and_point_at_files_of_this_repository() -> None:
    """The README is the package index's page: a relative link breaks there."""
    source = tomllib.loads(_read(ROOT / "pyproject.toml"))["project"]["urls"]["Source"]
    links = _LINK.findall(_read(ROOT / "README.md"))
    assert links
    assert [link for link in links if not link.startswith(source + "/")] == []
    targets = [re.sub(r"^/(?:blob|tree)/main/", "", link.removeprefix(source)) for link in links]
    assert [target for target in targets if not (ROOT / target).exists()] == []
