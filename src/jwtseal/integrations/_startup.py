"""Fetching every issuer's keys at start-up, without refusing to start when an issuer fails.

An application whose issuer cannot be reached at start-up still starts: its
guards answer 503 with ``Retry-After`` until the keys can be had. Keys that
can never be had as configured (issuer metadata naming a JWKS URI the
address guard refuses) are logged as an error, and each request that needs
them gets a logged 500: the issuer's metadata can change, so it must not
keep an application from starting.
"""

from __future__ import annotations

import logging

from ..errors import JwksError, JwksUnavailable
from ..verifier import Verifier

__all__ = ["ahydrate", "hydrate"]

logger = logging.getLogger("jwtseal.integrations")


def hydrate(verifier: Verifier) -> bool:
    """:meth:`Verifier.hydrate`, logging instead of raising when keys cannot be had.

    Returns:
        True when every issuer's keys were fetched.
    """
    try:
        verifier.hydrate()
    except JwksError as error:
        _log(error)
        return False
    return True


async def ahydrate(verifier: Verifier) -> bool:
    """:func:`hydrate` for asyncio, e.g. in an application's lifespan."""
    try:
        await verifier.ahydrate()
    except JwksError as error:
        _log(error)
        return False
    return True


def _log(error: JwksError) -> None:
    if isinstance(error, JwksUnavailable):
        logger.warning(
            "keys could not be fetched at start-up; requests get 503 until they can: %s", error.detail
        )
    else:
        logger.error("keys cannot be fetched as configured: %s: %s", error.code, error.detail)
