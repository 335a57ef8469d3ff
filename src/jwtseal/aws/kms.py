"""``JWTSEAL_SIGNER=aws-kms`` from the environment: the KMS client and the key ring's tags.

- ``JWTSEAL_KMS_KEY_RING``: the name jwtseal tags its KMS keys with
  (``jwtseal:ring``), so key rings sharing an account keep apart (default
  ``jwtseal``);
- ``JWTSEAL_KMS_DELETION_DAYS``: KMS's waiting period, 7 to 30 days, before
  a key that left the JWKS is deleted (default ``30``).

Region and credentials are boto3's usual lookup (``AWS_REGION``, a role...).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..settings import SettingsError
from ..signers.kms import KmsSigner
from ._config import kms_client

__all__ = ["kms_signer_from_environ"]


def kms_signer_from_environ(environ: Mapping[str, str]) -> KmsSigner:
    """Raises SettingsError: a variable is not valid; the message names it."""
    ring = environ.get("JWTSEAL_KMS_KEY_RING", "jwtseal")
    days = environ.get("JWTSEAL_KMS_DELETION_DAYS", "30")
    if not days.isdigit() or not 7 <= int(days) <= 30:
        raise SettingsError(f"JWTSEAL_KMS_DELETION_DAYS={days!r} is not valid: 7 to 30 days.")
    if not ring or len(ring) > 128:
        raise SettingsError("JWTSEAL_KMS_KEY_RING must be a name of 1 to 128 characters.")
    return KmsSigner(kms_client(), ring=ring, deletion_window_days=int(days))
