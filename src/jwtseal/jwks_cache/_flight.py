"""Work on a thread of its own that threads and event-loop tasks wait for alike.

A fetch runs on a short-lived thread, never on a caller's: a thread blocks
on :func:`wait`, a task awaits :func:`await_` without blocking its loop, and
both wait for the same single fetch with a bound on the wait itself.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future

from ..errors import JwksUnavailable

__all__ = ["await_", "start", "wait"]


def start(work: Callable[[], None], done: Callable[[], None]) -> Future[None]:
    """Run ``work`` on a daemon thread; ``done`` runs after it, before waiters wake."""
    future: Future[None] = Future()
    future.set_running_or_notify_cancel()  # a cancelled waiter must not cancel the work

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the waiters, who raise it
            done()
            future.set_exception(exc)
        else:
            done()
            future.set_result(None)

    threading.Thread(target=run, name="jwtseal-fetch", daemon=True).start()
    return future


def wait(future: Future[None], limit: float) -> None:
    """Block until the work is done, at most ``limit`` seconds.

    Raises:
        JwksUnavailable: the work took longer than ``limit``.
        Exception: whatever the work raised.
    """
    try:
        future.result(limit)
    except TimeoutError as exc:
        raise JwksUnavailable(f"The key fetch took longer than {limit} s.") from exc


async def await_(future: Future[None], limit: float) -> None:
    """:func:`wait` for a task: the event loop keeps running meanwhile.

    Raises:
        JwksUnavailable: the work took longer than ``limit``.
        Exception: whatever the work raised.
    """
    try:
        async with asyncio.timeout(limit):
            await asyncio.wrap_future(future)
    except TimeoutError as exc:
        raise JwksUnavailable(f"The key fetch took longer than {limit} s.") from exc
