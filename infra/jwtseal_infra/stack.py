"""The stack: composes the constructs, one per concern, and names the outputs."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from .api import TokenApi
from .config import StackConfig
from .generator import KeyGenerator
from .kms import KmsSigning
from .packaging import lambda_code
from .storage import KeyStorage

__all__ = ["JwtsealStack"]


class JwtsealStack(cdk.Stack):
    """Secret and bucket, key generator, and the API over them."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description="jwtseal: JWTs anyone can verify", **kwargs)
        code = lambda_code(config.project_root, bundle=config.bundle)
        storage = KeyStorage(self, "Keys", retain=config.retain_keys)
        kms = None
        if config.signer == "aws-kms":
            kms = KmsSigning(self, "Kms", ring=config.kms_key_ring, deletion_days=config.kms_deletion_days)
        generator = KeyGenerator(
            self,
            "Generator",
            storage=storage,
            code=code,
            version=config.key_version,
            api_key_hashes=config.api_key_hashes,
            kms=kms,
        )
        api = TokenApi(self, "Tokens", storage=storage, code=code, kms=kms)
        api.encoder.function.node.add_dependency(generator.key_set)  # no signer before its keys
        cdk.CfnOutput(self, "ApiUrl", value=api.base_url)
        cdk.CfnOutput(self, "JwksUri", value=api.jwks_uri)
        cdk.CfnOutput(self, "SecretArn", value=storage.secret.secret_arn)
        cdk.CfnOutput(self, "BucketName", value=storage.bucket.bucket_name)
        cdk.CfnOutput(self, "CurrentKid", value=generator.key_set.get_att_string("CurrentKid"))
        if not config.bundle:
            cdk.Annotations.of(self).add_warning_v2(
                "jwtseal:unbundled", "Lambda code is not bundled (jwtseal:bundle=false): do not deploy this."
            )
        if not config.api_key_hashes:
            cdk.Annotations.of(self).add_warning_v2(
                "jwtseal:noApiKeys", "No jwtseal:apiKeyHashes: POST /encode refuses every request."
            )
