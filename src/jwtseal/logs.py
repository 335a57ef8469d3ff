"""Structured logs: one JSON object per line, never a token or a key.

Log calls pass their data as ``extra={"fields": {...}}``; only those fields
and the message are written, so nothing reaches a log by accident. A record
logged with an exception carries its type, message and traceback in the same
line (``exception``, ``error``, ``traceback``): one JSON object, never a raw
traceback across many lines.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["JsonFormatter", "configure_logging"]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["exception"] = type(error).__qualname__
            entry["error"] = str(error)
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(stream: TextIO = sys.stderr, level: int = logging.INFO) -> None:
    """Send jwtseal's logs to ``stream`` as JSON lines (done once, by ``serve``)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("jwtseal")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
