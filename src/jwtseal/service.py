"""One jwtseal service assembled from settings: the key ring, issuer and verifier.

Every edge (HTTP, CLI, Lambda) builds the same objects from the same
settings here, so none of them wires the library differently.
"""

from __future__ import annotations

from dataclasses import dataclass

from .claims import ClaimsPolicy
from .issuer import Issuer
from .keyring import KeyRing
from .keyset import RotationPolicy
from .settings import Settings
from .stores.base import KeyStore
from .stores.file import FileKeyStore
from .verifier import Verifier

__all__ = ["Service"]


@dataclass(frozen=True, slots=True)
class Service:
    settings: Settings
    keyring: KeyRing
    issuer: Issuer
    verifier: Verifier

    @classmethod
    def open(cls, settings: Settings, store: KeyStore | None = None) -> Service:
        """Wire the library for ``settings``; the key set is created when missing.

        Raises:
            KeyStoreError: the store is unreadable or corrupt.
        """
        rotation = RotationPolicy(
            algorithm=settings.algorithm,
            period=settings.rotation_period,
            max_token_ttl=settings.max_token_ttl,
            leeway=settings.leeway,
            jwks_max_age=settings.jwks_max_age,
        )
        keyring = KeyRing(store or FileKeyStore(settings.data_dir), rotation)
        keyring.view()
        claims = ClaimsPolicy(
            issuer=settings.issuer,
            token_ttl=settings.token_ttl,
            max_token_ttl=settings.max_token_ttl,
            leeway=settings.leeway,
        )
        return cls(settings, keyring, Issuer(keyring, claims), Verifier(keyring, leeway=settings.leeway))
