"""The remote key cache: one engine for threads and tasks, in memory or shared by a host's processes."""

from .cache import CacheEvent, CacheStats, JWKSCache, RemoteKeys

__all__ = ["CacheEvent", "CacheStats", "JWKSCache", "RemoteKeys"]
