"""``JWTSEAL_SIGNER=aws-kms``: the KMS client and the key ring's tags, from the settings.

``JWTSEAL_KMS_KEY_RING`` names the tag (``jwtseal:ring``) that keeps key
rings sharing an account apart; ``JWTSEAL_KMS_DELETION_DAYS`` is KMS's
waiting period before a key that left the JWKS is deleted. Region and
credentials are boto3's usual lookup (``AWS_REGION``, a role...).
"""

from __future__ import annotations

from ..settings import Settings
from ..signers.kms import KmsSigner
from ._config import kms_client

__all__ = ["kms_signer"]


def kms_signer(settings: Settings) -> KmsSigner:
    """The KMS signer of ``settings``, with a client of short timeouts."""
    days = settings.kms_deletion_days
    return KmsSigner(kms_client(), ring=settings.kms_key_ring, deletion_window_days=days)
