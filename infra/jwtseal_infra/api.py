"""The REST API: the JWKS served from S3, ``/encode`` and ``/decode`` on Lambda."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .handler import JWKS_MAX_AGE, Handler
from .kms import KmsSigning
from .storage import JWKS_KEY, KeyStorage

__all__ = ["STAGE", "TokenApi", "problem_json"]

STAGE: Final = "v1"
CACHE_CONTROL: Final = f"public, max-age={JWKS_MAX_AGE}"
PROBLEM_JSON: Final = "'application/problem+json'"


def problem_json(status: int, code: str, detail: str) -> str:
    """The body jwtseal.http.problems.problem() renders, for answers API Gateway makes itself."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    return json.dumps(body)


def _literal(value: str) -> str:
    """A static header value in an API Gateway mapping is quoted."""
    return f"'{value}'"


class TokenApi(Construct):
    """``GET /.well-known/jwks.json``, ``POST /encode``, ``POST /decode``.

    ``/encode`` is not open to the world: the encoder refuses any request
    without ``Authorization: Bearer <api key>`` whose SHA-256 is one of the
    hashes kept in the secret (the local service's contract, unchanged). The
    stage throttles it harder than the rest.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: KeyStorage,
        code: lambda_.Code,
        kms: KmsSigning | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name="jwtseal",
            description="jwtseal: issue JSON Web Tokens anyone can verify",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=100,
                throttling_burst_limit=200,
                method_options={
                    "/encode/POST": apigw.MethodDeploymentOptions(
                        throttling_rate_limit=20, throttling_burst_limit=40
                    )
                },
            ),
        )
        # Built by hand, not from the stage: a function that referenced the stage
        # would depend on the deployment, which depends on the function's method.
        self.base_url = cdk.Fn.join(
            "",
            [
                "https://",
                self.api.rest_api_id,
                ".execute-api.",
                cdk.Aws.REGION,
                ".",
                cdk.Aws.URL_SUFFIX,
                f"/{STAGE}",
            ],
        )
        environment = {"JWTSEAL_ISSUER": self.base_url}
        self.encoder = self._encoder(storage, code, environment, kms)
        self.decoder = Handler(
            self,
            "Decoder",
            code=code,
            handler="jwtseal.aws.decode.handler",
            description="jwtseal POST /decode: verifies against a public JWKS URI, reads nothing private",
            environment=environment,
            timeout=cdk.Duration.seconds(10),
        )
        self.jwks_role = iam.Role(
            self,
            "JwksReadRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="jwtseal API Gateway: reads jwks.json and nothing else",
        )
        self.jwks_role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[storage.jwks_arn])
        )
        self._jwks_method(storage)
        self.api.root.add_resource("encode").add_method(
            "POST", apigw.LambdaIntegration(self.encoder.function)
        )
        self.api.root.add_resource("decode").add_method(
            "POST", apigw.LambdaIntegration(self.decoder.function)
        )
        self._gateway_problems()

    @property
    def jwks_uri(self) -> str:
        return cdk.Fn.join("", [self.base_url, "/.well-known/jwks.json"])

    def _encoder(
        self, storage: KeyStorage, code: lambda_.Code, environment: dict[str, str], kms: KmsSigning | None
    ) -> Handler:
        """Signs with the key set from Secrets Manager, or with KMS keys and no secret at all."""
        if kms is None:
            description = "jwtseal POST /encode: signs with the key set from Secrets Manager"
            where = {"JWTSEAL_SECRET_ID": storage.secret.secret_arn}
        else:
            description = "jwtseal POST /encode: signs with AWS KMS keys; reads no secret"
            where = {"JWTSEAL_BUCKET": storage.bucket.bucket_name, **kms.environment}
        encoder = Handler(
            self,
            "Encoder",
            code=code,
            handler="jwtseal.aws.encode.handler",
            description=description,
            environment={**environment, **where, "JWTSEAL_SECRET_CACHE_TTL": "300"},
            timeout=cdk.Duration.seconds(10),
        )
        if kms is None:
            encoder.allow(["secretsmanager:GetSecretValue"], [storage.secret.secret_arn])
        else:
            kms.grant_signing(encoder, storage)
        return encoder

    def _jwks_method(self, storage: KeyStorage) -> None:
        """S3 ``GetObject`` through API Gateway; the integration responses are required.

        Without them even a good request answers 500 ("No match for output
        mapping and no default output mapping configured"), the original
        author's pitfall. ``If-None-Match`` is passed on, so S3's 304 is ours.
        """
        cached = {
            "method.response.header.Cache-Control": _literal(CACHE_CONTROL),
            "method.response.header.ETag": "integration.response.header.ETag",
        }
        integration = apigw.AwsIntegration(
            service="s3",
            integration_http_method="GET",
            path=f"{storage.bucket.bucket_name}/{JWKS_KEY}",
            options=apigw.IntegrationOptions(
                credentials_role=self.jwks_role,
                request_parameters={
                    "integration.request.header.If-None-Match": "method.request.header.If-None-Match"
                },
                integration_responses=[
                    apigw.IntegrationResponse(
                        status_code="200",
                        response_parameters={
                            "method.response.header.Content-Type": _literal("application/json"),
                            **cached,
                        },
                    ),
                    apigw.IntegrationResponse(
                        status_code="304", selection_pattern="304", response_parameters=cached
                    ),
                    apigw.IntegrationResponse(
                        status_code="502",
                        selection_pattern=r"(4|5)\d{2}",
                        response_parameters={"method.response.header.Content-Type": PROBLEM_JSON},
                        response_templates={
                            "application/json": problem_json(
                                502, "jwks_unavailable", "The JWKS could not be read from its bucket."
                            )
                        },
                    ),
                ],
            ),
        )
        headers = dict.fromkeys(cached, True)
        self.api.root.add_resource(".well-known").add_resource("jwks.json").add_method(
            "GET",
            integration,
            request_parameters={"method.request.header.If-None-Match": False},
            method_responses=[
                apigw.MethodResponse(
                    status_code="200",
                    response_parameters={"method.response.header.Content-Type": True, **headers},
                ),
                apigw.MethodResponse(status_code="304", response_parameters=headers),
                apigw.MethodResponse(
                    status_code="502", response_parameters={"method.response.header.Content-Type": True}
                ),
            ],
        )

    def _gateway_problems(self) -> None:
        """The answers API Gateway gives without calling us, as problem+json too."""
        answers = {
            "NotFound": (
                apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
                404,
                "not_found",
                "There is nothing at this path.",
            ),
            "TooLarge": (
                apigw.ResponseType.REQUEST_TOO_LARGE,
                413,
                "payload_too_large",
                "The request body is too large.",
            ),
        }
        for name, (response_type, status, code, detail) in answers.items():
            self.api.add_gateway_response(
                name,
                type=response_type,
                status_code=str(status),
                response_headers={"Content-Type": PROBLEM_JSON},
                templates={"application/json": problem_json(status, code, detail)},
            )
