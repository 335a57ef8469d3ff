"""One Lambda function of jwtseal with a role of its own that can do nothing else yet."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .packaging import ARCHITECTURE, RUNTIME

__all__ = ["JWKS_MAX_AGE", "Handler"]

JWKS_MAX_AGE = 300
"""The JWKS ``Cache-Control`` max-age, in seconds: the rotation timings and the API agree on it."""


class Handler(Construct):
    """A function, its log group, and a dedicated role allowed only to write those logs.

    Every other permission is granted by the construct that wires the
    function to a resource, one statement each, so a test can read the whole
    policy of a role and find nothing more.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        handler: str,
        description: str,
        environment: Mapping[str, str],
        timeout: cdk.Duration,
        memory_size: int = 256,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"jwtseal {construct_id}: its own logs, and only what its job needs",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=code,
            handler=handler,
            description=description,
            role=self.role,
            memory_size=memory_size,
            timeout=timeout,
            log_group=self.log_group,
            environment={"JWTSEAL_JWKS_MAX_AGE": str(JWKS_MAX_AGE), **environment},
        )

    def allow(self, actions: list[str], resources: list[str]) -> None:
        self.role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
