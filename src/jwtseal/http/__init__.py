"""The HTTP edge: the library's service behind jwtseal's own HTTP/1.1 server."""

from .app import create_app

__all__ = ["create_app"]
