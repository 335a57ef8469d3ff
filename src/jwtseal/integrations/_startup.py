"""Fetching every issuer's keys at start-up, without refusing to start when an issuer is down.

An application that cannot reach its issuer at start-up still starts: its
guards answer 503 with ``Retry-After`` until the keys can be had, and the
first request after that fetches them. A configuration error (a JWKS URI the
address guard refuses) is raised, so a wrong setting stops the start.
"""

from __future__ import annotations

import logging

from ..errors import JwksUnavailable
from ..verifier import Verifier

__all__ = ["ahydrate", "hydrate"]

logger = logging.getLogger("jwtseal.integrations")


def hydrate(verifier: Verifier) -> bool:
    """:meth:`Verifier.hydrate`, logging a warning instead of raising when keys cannot be had yet.

    Returns:
        True when every issuer's keys were fetched.

    Raises:
        JwksUriNotAllowed: a configured URI is refused by the address guard.
    """
    try:
        verifier.hydrate()
    except JwksUnavailable as error:
        _warn(error)
        return False
    return True


async def ahydrate(verifier: Verifier) -> bool:
    """:func:`hydrate` for asyncio, e.g. in an application's lifespan.

    Raises:
        JwksUriNotAllowed: a configured URI is refused by the address guard.
    """
    try:
        await verifier.ahydrate()
    except JwksUnavailable as error:
        _warn(error)
        return False
    return True


def _warn(error: JwksUnavailable) -> None:
    logger.warning("keys could not be fetched at start-up; requests get 503 until they can: %s", error.detail)
