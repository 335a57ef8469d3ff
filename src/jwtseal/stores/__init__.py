"""Key stores: where the key set lives. The file store is the default."""

from .base import KeyStore
from .file import FileKeyStore

__all__ = ["FileKeyStore", "KeyStore"]
