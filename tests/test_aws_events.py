"""The Lambda edge's plumbing: events in, responses out, settings, the entry point."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from jwtseal import Unauthorized
from jwtseal.aws import store_from_environ
from jwtseal.aws._config import AwsSettings, s3_client, secrets_client
from jwtseal.aws._events import ApiRequest, Entry, json_response, respond
from jwtseal.settings import SettingsError
from tests.aws_fixtures import api_event


def test_headers_are_found_whatever_their_case_and_may_be_absent() -> None:
    request = ApiRequest.of(api_event("{}", headers={"X-Thing": "1", "authorization": "Bearer k"}))
    assert request.header("x-thing") == "1"
    assert request.header("authorization") == "Bearer k"
    assert ApiRequest.of({"body": None, "headers": None}).header("authorization") is None
    assert ApiRequest.of({}).body == b""


def test_a_body_of_exactly_the_limit_is_accepted() -> None:
    assert len(ApiRequest.of({"body": "x" * 65_536}).body) == 65_536


def test_a_lone_surrogate_in_the_body_is_a_bad_request_not_a_crash() -> None:
    request = ApiRequest.of({"body": '{"a": "\ud800"}'})
    answer = respond(lambda request: json_response(request.json()), {"body": '{"a": "\ud800"}'})
    assert request.body.endswith(b'"}')
    assert answer["statusCode"] == 400


def test_respond_renders_unauthorized_with_the_bearer_challenge() -> None:
    def refuse(request: ApiRequest) -> dict[str, Any]:
        raise Unauthorized

    answer = respond(refuse, {})
    assert answer["statusCode"] == 401
    assert answer["headers"] == {"Content-Type": "application/problem+json", "WWW-Authenticate": "Bearer"}
    assert answer["isBase64Encoded"] is False


class Recorder:
    built: ClassVar[list[Mapping[str, str]]] = []

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.closed = False
        Recorder.built.append(environ)

    def __call__(self, event: Mapping[str, Any], context: object = None) -> Any:
        return {"event": dict(event), "context": context}

    def close(self) -> None:
        self.closed = True


def test_the_entry_builds_its_handler_once_per_container_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JWTSEAL_TEST_MARK", "1")
    Recorder.built.clear()
    entry = Entry(Recorder)
    entry.close()  # nothing built yet: nothing to close
    assert entry({"a": 1}, "ctx") == {"event": {"a": 1}, "context": "ctx"}
    assert entry({"a": 2}) == {"event": {"a": 2}, "context": None}
    assert len(Recorder.built) == 1
    assert Recorder.built[0]["JWTSEAL_TEST_MARK"] == "1"
    first = entry.handler
    entry.close()
    assert first.closed
    entry({})
    assert len(Recorder.built) == 2


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "JWTSEAL_SECRET_ID"),
        ({"JWTSEAL_SECRET_ID": ""}, "JWTSEAL_SECRET_ID"),
        ({"JWTSEAL_SECRET_ID": "s", "JWTSEAL_SECRET_CACHE_TTL": "-1"}, "JWTSEAL_SECRET_CACHE_TTL"),
        ({"JWTSEAL_SECRET_ID": "s", "JWTSEAL_SECRET_CACHE_TTL": "five"}, "JWTSEAL_SECRET_CACHE_TTL"),
    ],
)
def test_aws_settings_name_the_variable_that_is_wrong(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        AwsSettings.load(environ)


def test_aws_settings_defaults_and_the_bucket_requirement() -> None:
    assert AwsSettings.load({"JWTSEAL_SECRET_ID": "s"}) == AwsSettings("s", None, 300)
    assert AwsSettings.load(
        {"JWTSEAL_SECRET_ID": "s", "JWTSEAL_BUCKET": "b", "JWTSEAL_SECRET_CACHE_TTL": "0"}
    ) == (AwsSettings("s", "b", 0))
    with pytest.raises(SettingsError, match="JWTSEAL_BUCKET"):
        AwsSettings.load({"JWTSEAL_SECRET_ID": "s"}, need_bucket=True)


def test_clients_follow_boto3s_usual_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    secrets, s3 = secrets_client(), s3_client()
    try:
        assert secrets.meta.region_name == s3.meta.region_name == "eu-west-1"
        assert secrets.meta.endpoint_url == "http://127.0.0.1:9"
        retries = secrets.meta.config.retries  # type: ignore[attr-defined]
        assert retries == {"mode": "standard", "total_max_attempts": 3}
    finally:
        secrets.close()
        s3.close()


def test_without_boto3_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(ImportError, match=r"pip install 'jwtseal\[aws\]'"):
        secrets_client()


def test_jwtseal_serve_can_share_one_key_set_through_the_aws_store(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
    }.items():
        monkeypatch.setenv(name, value)
    environ = {"JWTSEAL_SECRET_ID": "arn:secret", "JWTSEAL_JWKS_MAX_AGE": "120"}
    alone = store_from_environ(environ)
    assert (alone.secret_id, alone.bucket, alone._cache_ttl, alone._s3) == ("arn:secret", None, 5, None)
    shared = store_from_environ({**environ, "JWTSEAL_BUCKET": "b", "JWTSEAL_SECRET_CACHE_TTL": "30"})
    assert (shared.bucket, shared._cache_ttl, shared._cache_control) == ("b", 30, "public, max-age=120")
    for store in (alone, shared):
        store._secrets.close()
    assert shared._s3 is not None
    shared._s3.close()
