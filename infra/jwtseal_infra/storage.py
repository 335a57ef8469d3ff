"""Where the keys live: one secret for the private key set, one private bucket for jwks.json."""

from __future__ import annotations

from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

__all__ = ["JWKS_KEY", "KEYRING_KEY", "KeyStorage"]

JWKS_KEY: Final = "jwks.json"
KEYRING_KEY: Final = "keyring.json"
"""With KMS signing: the key ring's states and public keys, no private key, for the encoder."""


class KeyStorage(Construct):
    """The secret and the bucket; neither is ever public.

    The secret starts empty (no generated password, no template value): the
    key generator writes the first version, and no later template change can
    overwrite the keys. With ``retain`` (the default) both survive a stack
    deletion, so tokens outlive a mistaken ``cdk destroy``; delete them by
    hand when you mean it (README.md).
    """

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool = True) -> None:
        super().__init__(scope, construct_id)
        removal = cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY
        self.secret = secretsmanager.Secret(
            self,
            "KeySet",
            description="jwtseal private key set: written only by the key generator; do not edit.",
            removal_policy=removal,
        )
        cfn_secret = self.secret.node.default_child
        assert isinstance(cfn_secret, secretsmanager.CfnSecret)
        cfn_secret.add_property_deletion_override("GenerateSecretString")
        self.bucket = s3.Bucket(
            self,
            "Jwks",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal,
            auto_delete_objects=not retain,
        )

    @property
    def jwks_arn(self) -> str:
        """The one object anyone but the generator may read: ``jwks.json``."""
        return self.bucket.arn_for_objects(JWKS_KEY)
