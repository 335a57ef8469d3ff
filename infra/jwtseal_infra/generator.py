"""The key generator: a custom resource whose ``Version`` bump rotates, plus a daily maintenance."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from .handler import Handler
from .kms import KmsSigning
from .storage import KeyStorage

__all__ = ["KeyGenerator"]


class KeyGenerator(Construct):
    """Creates the key set on Create, rotates it on each ``Version`` change, never deletes it.

    Its role may write the secret (compare-and-swap on the ``AWSCURRENT``
    label) and put ``jwks.json``; nothing else. With ``kms``, it makes and
    retires the ring's KMS keys too, and puts ``keyring.json`` for the encoder.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: KeyStorage,
        code: lambda_.Code,
        version: str,
        api_key_hashes: Sequence[str],
        kms: KmsSigning | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = Handler(
            self,
            "KeyGenerator",
            code=code,
            handler="jwtseal.aws.keys.handler",
            description="jwtseal key generator: creates, rotates and publishes the key set",
            environment={
                "JWTSEAL_SECRET_ID": storage.secret.secret_arn,
                "JWTSEAL_BUCKET": storage.bucket.bucket_name,
                **(kms.environment if kms else {}),
            },
            timeout=cdk.Duration.seconds(60),
            memory_size=512,
        )
        self.handler.allow(
            [
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            [storage.secret.secret_arn],
        )
        self.handler.allow(["s3:PutObject"], [storage.jwks_arn])
        if kms is not None:
            kms.grant_rotation(self.handler, storage)
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.handler.function,
            log_group=logs.LogGroup(
                self,
                "ProviderLogs",
                retention=logs.RetentionDays.ONE_MONTH,
                removal_policy=cdk.RemovalPolicy.DESTROY,
            ),
        )
        self.key_set = cdk.CustomResource(
            self,
            "KeySet",
            service_token=provider.service_token,
            resource_type="Custom::JwtsealKeySet",
            properties={"Version": version, "ApiKeyHashes": list(api_key_hashes)},
        )
        events.Rule(
            self,
            "Maintenance",
            description="jwtseal: rotate when the period is over, drop retired keys past their time",
            schedule=events.Schedule.rate(cdk.Duration.days(1)),
            targets=[
                targets.LambdaFunction(
                    self.handler.function,
                    event=events.RuleTargetInput.from_object({"jwtseal": "maintain"}),
                )
            ],
        )
