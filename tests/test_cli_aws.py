"""The command line on the AWS key store: JWTSEAL_SECRET_ID selects it, against moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from jwtseal.cli import main
from tests.aws_fixtures import MotoAws, aws_environ, moto_server
from tests.servers import serve


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_server() as running:
        yield running


def test_sign_verify_and_rotate_share_one_secret(aws: MotoAws, tmp_path: Path) -> None:
    env = {
        **aws_environ(aws.endpoint),
        "JWTSEAL_SECRET_ID": aws.new_secret(),
        "JWTSEAL_SECRET_CACHE_TTL": "0",
    }
    runner = CliRunner()
    token = runner.invoke(main, ["sign", "--claims", '{"groceryList": ["rice"]}'], env=env).stdout.strip()
    rotated = runner.invoke(main, ["keys", "rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    verified = runner.invoke(main, ["verify", token, "--data-dir", str(tmp_path / "unused")], env=env)
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["groceryList"] == ["rice"]
    states = [
        row["state"] for row in json.loads(runner.invoke(main, ["keys", "list", "--json"], env=env).stdout)
    ]
    assert sorted(states) == ["current", "next", "retired"]
    assert not (tmp_path / "unused").exists()


def test_two_serve_replicas_share_one_key_set(aws: MotoAws, tmp_path: Path) -> None:
    env = {**aws_environ(aws.endpoint), "JWTSEAL_SECRET_ID": aws.new_secret(), "JWTSEAL_API_KEYS": "k"}
    with (
        serve(tmp_path / "a", "--workers", "2", **env) as one,
        serve(tmp_path / "b", "--workers", "1", **env) as two,
    ):
        token = httpx.post(f"{one.url}/encode", json={}, headers={"authorization": "Bearer k"}).json()[
            "token"
        ]
        assert httpx.post(f"{two.url}/decode", json={"token": token}).status_code == 200
        kids = {
            httpx.get(f"{url}/.well-known/jwks.json").json()["keys"][0]["kid"] for url in (one.url, two.url)
        }
        assert len(kids) == 1
