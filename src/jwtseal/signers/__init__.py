"""Signers: who holds the private half of each key (``JWTSEAL_SIGNER``).

``local``: jwtseal itself, its key store keeping the private keys;
``aws-kms``: AWS KMS, each key an asymmetric KMS key that never leaves it
(``pip install 'jwtseal[aws]'``; see :mod:`jwtseal.signers.kms`).
"""

from __future__ import annotations

from ..settings import Settings
from .base import KeySigner
from .local import LocalSigner

__all__ = ["KeySigner", "LocalSigner", "open_signer"]


def open_signer(settings: Settings) -> KeySigner:
    """The signer ``settings.signer`` names.

    Raises:
        ImportError: ``aws-kms`` without the ``jwtseal[aws]`` extra.
    """
    if settings.signer == "aws-kms":
        from ..aws.kms import kms_signer  # noqa: PLC0415 - boto3 only when asked for

        return kms_signer(settings)
    return LocalSigner()
