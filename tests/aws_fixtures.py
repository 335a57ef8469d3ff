"""AWS, faked locally: a moto server on 127.0.0.1, the API Gateway JWKS route, event builders.

Every boto3 client made here points at the moto server with dummy
credentials, so no test can reach real AWS. The :class:`JwksGateway` plays
the stack's ``GET /.well-known/jwks.json``: it reads ``jwks.json`` from the
bucket with S3 credentials (as the API Gateway role does) and answers with
the integration responses' headers, so the decoder fetches the published
set over HTTP exactly as it would through API Gateway.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from mypy_boto3_kms import KMSClient
from mypy_boto3_s3 import S3Client
from mypy_boto3_secretsmanager import SecretsManagerClient

from tests.conftest import ServedInThread

REGION = "us-east-1"
STAGE_PATH = "/v1/.well-known/jwks.json"
CACHE_CONTROL = "public, max-age=300"


def aws_environ(endpoint: str) -> dict[str, str]:
    """What a Lambda function's boto3 would see, pointed at moto."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }


class CallCounter:
    """Counts the API calls a boto3 client makes, by operation name."""

    def __init__(self, client: Any, service: str) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register(f"before-call.{service}", self._count)

    def _count(self, model: Any, **kwargs: Any) -> None:
        self.calls[model.name] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@dataclass
class MotoAws:
    """One moto server; clients made through it are closed when it stops."""

    endpoint: str
    clients: list[Any] = field(default_factory=list)

    def secrets(self, endpoint: str | None = None) -> SecretsManagerClient:
        client: SecretsManagerClient = self._client("secretsmanager", endpoint, fail_fast=True)
        return client

    def kms(self, endpoint: str | None = None) -> KMSClient:
        client: KMSClient = self._client("kms", endpoint, fail_fast=True)
        return client

    def s3(self) -> S3Client:
        client: S3Client = self._client("s3")
        return client

    def _client(
        self,
        service: Literal["secretsmanager", "kms", "s3"],
        endpoint: str | None = None,
        *,
        fail_fast: bool = False,
    ) -> Any:
        """A client of ``service`` on the moto server (or ``endpoint``), closed when it stops.

        ``fail_fast``: one attempt and short timeouts, for tests that stop the server under it.
        """
        config = (
            Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10) if fail_fast else None
        )
        client = boto3.client(
            service,
            endpoint_url=endpoint or self.endpoint,
            region_name=REGION,
            config=config,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.clients.append(client)
        return client

    def new_secret(self, value: str | None = None) -> str:
        """A new secret, empty as the stack makes it (or holding ``value``); its ARN."""
        name = f"jwtseal-{secrets.token_hex(6)}"
        client = self.secrets()
        if value is None:
            return client.create_secret(Name=name)["ARN"]
        return client.create_secret(Name=name, SecretString=value)["ARN"]

    def new_bucket(self) -> str:
        name = f"jwtseal-jwks-{secrets.token_hex(6)}"
        self.s3().create_bucket(Bucket=name)
        return name

    def secret_document(self, secret_id: str) -> Any:
        answer = self.secrets().get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
        return json.loads(answer["SecretString"])

    def published(self, bucket: str) -> tuple[dict[str, Any], dict[str, str]]:
        """The bucket's jwks.json and its object headers."""
        answer = self.s3().get_object(Bucket=bucket, Key="jwks.json")
        with answer["Body"] as body:
            document = json.loads(body.read())
        return document, {"ContentType": answer["ContentType"], "CacheControl": answer["CacheControl"]}


@contextmanager
def moto_server() -> Iterator[MotoAws]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    aws = MotoAws(f"http://{host}:{port}")
    try:
        yield aws
    finally:
        for client in aws.clients:
            client.close()
        server.stop()
        server._server.server_close()  # type: ignore[union-attr] # stop() leaves the socket open


class _GatewayHandler(BaseHTTPRequestHandler):
    server: _GatewayServer
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        gateway = self.server.gateway
        gateway.requests += 1
        if self.path != STAGE_PATH:
            self._send(404, {"Content-Type": "application/problem+json"}, b"{}")
            return
        etag = self.headers["If-None-Match"]
        try:
            if etag:
                answer = gateway.s3.get_object(Bucket=gateway.bucket, Key="jwks.json", IfNoneMatch=etag)
            else:
                answer = gateway.s3.get_object(Bucket=gateway.bucket, Key="jwks.json")
        except ClientError as exc:
            status = int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
            cached = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
            if status == 304:
                self._send(304, cached, b"")
            else:
                self._send(502, {"Content-Type": "application/problem+json"}, b'{"code":"jwks_unavailable"}')
            return
        with answer["Body"] as body:
            data = body.read()
        headers = {"Content-Type": "application/json", "Cache-Control": CACHE_CONTROL, "ETag": answer["ETag"]}
        self._send(200, headers, data)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet."""


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    gateway: JwksGateway


class JwksGateway(ServedInThread):
    """The stack's JWKS route on 127.0.0.1: S3 GetObject behind the integration responses."""

    _server: _GatewayServer

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.requests = 0
        self._server = _GatewayServer(("127.0.0.1", 0), _GatewayHandler)
        self._server.gateway = self

    @property
    def base_url(self) -> str:
        """What the stack sets as ``JWTSEAL_ISSUER``: the stage's URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def jwks_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{STAGE_PATH}"


def api_event(
    body: str | bytes | dict[str, Any] | None,
    *,
    headers: dict[str, str] | None = None,
    base64_encoded: bool = False,
    method: str = "POST",
    path: str = "/encode",
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as API Gateway hands it to Lambda."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, bytes):
        body = base64.b64encode(body).decode() if base64_encoded else body.decode()
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in (headers or {}).items()},
        "queryStringParameters": None,
        "requestContext": {"stage": "v1", "requestId": secrets.token_hex(8)},
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


def cfn_event(
    kind: str,
    *,
    version: str = "1",
    old_version: str | None = None,
    api_key_hashes: list[str] | None = None,
    physical_id: str | None = None,
) -> dict[str, Any]:
    """A CloudFormation custom resource event as the Provider framework passes it on."""
    properties: dict[str, Any] = {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:x"}
    properties["Version"] = version
    if api_key_hashes is not None:
        properties["ApiKeyHashes"] = api_key_hashes
    event: dict[str, Any] = {
        "RequestType": kind,
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": "https://cloudformation-custom-resource-response.example/",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/Jwtseal/x",
        "RequestId": secrets.token_hex(8),
        "LogicalResourceId": "GeneratorKeySet",
        "ResourceType": "Custom::JwtsealKeySet",
        "ResourceProperties": properties,
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_version is not None:
        event["OldResourceProperties"] = {**properties, "Version": old_version}
    return event


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def import_copy(module_file: str | None, name: str) -> None:
    """Execute a fresh copy of the module at ``module_file``, as a first import would."""
    assert module_file is not None
    spec = importlib.util.spec_from_file_location(name, module_file)
    assert spec is not None
    assert spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
