"""KMS signing (``-c jwtseal:signer=aws-kms``): each key an asymmetric KMS key that never leaves KMS.

Every grant names jwtseal's keys by their tags, never a key ARN (the keys
are made after deployment) and never ``*`` alone:

- the rotation function alone may ``CreateKey``, and only with the tags
  ``jwtseal:managed=true`` and ``jwtseal:ring=<ring>`` on the request; it
  may tag, describe, read the public key of and schedule the deletion of
  keys that carry the ring's tag, and list keys and their tags (KMS grants
  ``ListKeys`` on ``*`` only) to find its own;
- the encoder may ``Sign``, ``GetPublicKey`` and ``DescribeKey`` on keys that
  carry both tags, and read the key ring's public record (``keyring.json``),
  with no Secrets Manager read at all;
- the decoder is given nothing.
"""

from __future__ import annotations

from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from .handler import Handler
from .storage import KEYRING_KEY, KeyStorage

__all__ = ["KmsSigning"]

MANAGED_TAG: Final = "jwtseal:managed"
RING_TAG: Final = "jwtseal:ring"


class KmsSigning(Construct):
    """The KMS keys' grants and the variables that select the ``aws-kms`` signer."""

    def __init__(self, scope: Construct, construct_id: str, *, ring: str, deletion_days: int) -> None:
        super().__init__(scope, construct_id)
        self.ring = ring
        self.environment = {
            "JWTSEAL_SIGNER": "aws-kms",
            "JWTSEAL_KMS_KEY_RING": ring,
            "JWTSEAL_KMS_DELETION_DAYS": str(deletion_days),
        }
        stack = cdk.Stack.of(self)
        self.keys_arn = stack.format_arn(service="kms", resource="key", resource_name="*")

    def _own_keys(self, actions: list[str], *, signing: bool = False) -> iam.PolicyStatement:
        tags = {f"aws:ResourceTag/{RING_TAG}": self.ring}
        if signing:
            tags[f"aws:ResourceTag/{MANAGED_TAG}"] = "true"
        return iam.PolicyStatement(
            actions=actions, resources=[self.keys_arn], conditions={"StringEquals": tags}
        )

    def grant_rotation(self, handler: Handler, storage: KeyStorage) -> None:
        """What the rotation function needs: make, tag, find and schedule the deletion of the ring's keys."""
        handler.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:CreateKey", "kms:TagResource"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        f"aws:RequestTag/{MANAGED_TAG}": "true",
                        f"aws:RequestTag/{RING_TAG}": self.ring,
                    }
                },
            )
        )
        handler.role.add_to_policy(
            self._own_keys(
                ["kms:TagResource", "kms:GetPublicKey", "kms:DescribeKey", "kms:ScheduleKeyDeletion"]
            )
        )
        handler.role.add_to_policy(iam.PolicyStatement(actions=["kms:ListKeys"], resources=["*"]))
        handler.role.add_to_policy(
            iam.PolicyStatement(actions=["kms:ListResourceTags"], resources=[self.keys_arn])
        )
        handler.allow(["s3:PutObject"], [storage.bucket.arn_for_objects(KEYRING_KEY)])

    def grant_signing(self, handler: Handler, storage: KeyStorage) -> None:
        """What the encoder needs: sign with the ring's keys, read the key ring's public record."""
        handler.role.add_to_policy(
            self._own_keys(["kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"], signing=True)
        )
        handler.allow(["s3:GetObject"], [storage.bucket.arn_for_objects(KEYRING_KEY)])
