"""One jwtseal service assembled from settings: the key ring, issuer and verifier.

Every edge (HTTP, CLI, Lambda) builds the same objects from the same
settings here, so none of them wires the library differently.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._netguard import AddressGuard
from .claims import ClaimsPolicy
from .issuer import Issuer
from .keyring import KeyRing
from .remote import RemoteEvent, RemoteJWKS
from .rotation import RotationPolicy
from .settings import Settings, SettingsError
from .stores.base import KeyStore
from .stores.file import FileKeyStore
from .verifier import PendingToken, Verifier

__all__ = ["Service", "remote_jwks"]

RemoteEventHook = Callable[[RemoteEvent, str], None]


def remote_jwks(settings: Settings, on_event: RemoteEventHook | None = None) -> RemoteJWKS:
    """The remote JWKS verifier, guarded by ``JWTSEAL_TRUSTED_JWKS_URIS``."""
    return RemoteJWKS(guard=AddressGuard(settings.trusted_jwks_uris), on_event=on_event)


@dataclass(frozen=True, slots=True)
class Service:
    settings: Settings
    keyring: KeyRing
    issuer: Issuer
    verifier: Verifier
    remote: RemoteJWKS = field(compare=False)

    @classmethod
    def open(
        cls,
        settings: Settings,
        store: KeyStore | None = None,
        on_remote_event: RemoteEventHook | None = None,
    ) -> Service:
        """Wire the library for ``settings``; the key set is created when missing.

        Private keys are wrapped under ``settings.key_encryption_key`` when it
        is set. A networked store (PostgreSQL) is refreshed in the background
        and, when unreachable at start, waited for rather than fatal.

        Raises:
            KeyStoreError: the store is unreadable or corrupt (a private key no
                configured KEK opens is named).
            SettingsError: the store holds only wrapped keys and no KEK is set.
        """
        rotation = RotationPolicy(
            algorithm=settings.algorithm,
            period=settings.rotation_period,
            max_token_ttl=settings.max_token_ttl,
            leeway=settings.leeway,
            jwks_max_age=settings.jwks_max_age,
        )
        store = store or FileKeyStore(settings.data_dir)
        if store.needs_key_encryption and settings.key_encryption_key is None:
            raise SettingsError(f"{store!r} needs a key-encryption key: set JWTSEAL_KEY_ENCRYPTION_KEY.")
        keyring = KeyRing(store, rotation, wrapping=settings.key_encryption_key, background=store.networked)
        keyring.start()
        claims = ClaimsPolicy(
            issuer=settings.issuer,
            token_ttl=settings.token_ttl,
            max_token_ttl=settings.max_token_ttl,
            leeway=settings.leeway,
        )
        verifier = Verifier(keyring, leeway=settings.leeway)
        return cls(
            settings, keyring, Issuer(keyring, claims), verifier, remote_jwks(settings, on_remote_event)
        )

    async def verify_remote(
        self, token: str, jwks_uri: str, *, audience: str | None = None, issuer: str | None = None
    ) -> dict[str, Any]:
        """Verify against the JWKS at ``jwks_uri`` (cached, guarded against SSRF).

        Raises:
            TokenError, JwksUriNotAllowed, JwksUnavailable: see :class:`RemoteJWKS`.
        """
        return await self.remote.verify(
            token, jwks_uri, now=time.time(), leeway=self.settings.leeway, audience=audience, issuer=issuer
        )

    def begin_remote_cached(self, token: str, jwks_uri: str) -> PendingToken | None:
        """:meth:`verify_remote` in steps when the key is cached and fresh; None when that needs a fetch.

        Raises:
            MalformedToken, MissingKid, AlgNotAllowed: before any key lookup.
        """
        return self.remote.begin_cached(token, jwks_uri, now=time.time(), leeway=self.settings.leeway)
