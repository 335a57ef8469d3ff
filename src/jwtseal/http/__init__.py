"""The HTTP edge: an ASGI application over the library."""

from .app import create_app

__all__ = ["create_app"]
