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
from ._token import PendingToken, begin, finish, inspect
from .claims import ClaimsPolicy
from .errors import UnknownKid
from .issuer import Issuer
from .jwks_cache import CacheEvent, JWKSCache
from .keyring import KeyRing
from .rotation import RotationPolicy
from .settings import Settings, SettingsError
from .signers import KeySigner, open_signer
from .stores.base import KeyStore
from .stores.file import FileKeyStore
from .verifier import ANY_AUDIENCE, Verifier

__all__ = ["Service", "jwks_cache"]

CacheEventHook = Callable[[CacheEvent, str], None]
JWKS_CACHE_DIRECTORY = "jwks-cache"


def jwks_cache(
    settings: Settings, on_event: CacheEventHook | None = None, *, shared: bool = True
) -> JWKSCache:
    """The cache of caller-named JWKS URIs, guarded by ``JWTSEAL_TRUSTED_JWKS_URIS``.

    ``shared``: kept in the data dir, so every worker and later process
    uses the same sets; a Lambda has no data dir and keeps it in memory.
    """
    directory = settings.data_dir / JWKS_CACHE_DIRECTORY if shared else None
    return JWKSCache(directory, guard=AddressGuard(settings.trusted_jwks_uris), on_event=on_event)


@dataclass(frozen=True, slots=True)
class Service:
    settings: Settings
    keyring: KeyRing
    issuer: Issuer
    verifier: Verifier
    remote: JWKSCache = field(compare=False)

    @classmethod
    def open(
        cls,
        settings: Settings,
        store: KeyStore | None = None,
        on_remote_event: CacheEventHook | None = None,
        signer: KeySigner | None = None,
    ) -> Service:
        """Wire the library for ``settings``; the key set is created when missing.

        ``signer`` defaults to the one ``JWTSEAL_SIGNER`` names.
        Private keys are wrapped under ``settings.key_encryption_key`` when it
        is set. A networked store (PostgreSQL) is refreshed in the background
        and, when unreachable at start, waited for rather than fatal.

        Raises:
            KeyStoreError: the store is unreadable or corrupt (a private key no
                configured KEK opens is named).
            SigningUnavailable: the KMS holding the keys cannot be used now.
            SettingsError: the store needs a key-encryption key (PostgreSQL) and none is set.
            ImportError: ``aws-kms`` without the ``jwtseal[aws]`` extra.
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
        keyring = KeyRing(
            store,
            rotation,
            signer=signer or open_signer(settings),
            wrapping=settings.key_encryption_key,
            background=store.networked,
        )
        keyring.start()
        claims = ClaimsPolicy(
            issuer=settings.issuer,
            token_ttl=settings.token_ttl,
            max_token_ttl=settings.max_token_ttl,
            leeway=settings.leeway,
        )
        verifier = Verifier(keyring, leeway=settings.leeway, audience=ANY_AUDIENCE)
        return cls(
            settings, keyring, Issuer(keyring, claims), verifier, jwks_cache(settings, on_remote_event)
        )

    async def verify_remote(
        self, token: str, jwks_uri: str, *, audience: str | None = None, issuer: str | None = None
    ) -> dict[str, Any]:
        """Verify against the JWKS at ``jwks_uri`` (cached, guarded against SSRF).

        Raises:
            TokenError, JwksUriNotAllowed, JwksUnavailable: see :class:`~jwtseal.JWKSCache`.
        """
        unverified = inspect(token)  # junk is refused before any fetch
        key = await self.remote.afind(jwks_uri, unverified.kid)
        return finish(
            unverified, key, now=time.time(), leeway=self.settings.leeway, audience=audience, issuer=issuer
        )

    def begin_remote_cached(self, token: str, jwks_uri: str) -> PendingToken | None:
        """:meth:`verify_remote` in steps when the key is cached and fresh; None when that needs a fetch.

        Raises:
            MalformedToken, MissingKid, AlgNotAllowed: before any key lookup.
        """
        try:
            return begin(
                token,
                lambda kid: self.remote.cached(jwks_uri, kid),
                now=time.time(),
                leeway=self.settings.leeway,
            )
        except UnknownKid:
            return None
