"""A fault of ours, logged once: what every part of the server does with an exception it cannot answer."""

from __future__ import annotations

import contextlib
import logging
import traceback

__all__ = ["log_failure"]

logger = logging.getLogger("jwtseal.http")


def log_failure(event: str, exc: BaseException, path: str) -> None:
    """Log a fault of ours once, with its exception's type, message and traceback.

    Never raises: the log sink itself may be what failed (a closed stderr
    raises ``ValueError`` even from :meth:`logging.Handler.handleError`).
    """
    kind = type(exc)
    fields = {
        "path": path,
        "error_type": kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}",
        "error": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }
    with contextlib.suppress(Exception):
        logger.error(event, extra={"fields": fields})
