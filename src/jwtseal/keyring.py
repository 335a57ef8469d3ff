"""The key ring: the key set of a store, held in memory and kept fresh.

Signing and verifying read an immutable snapshot, so the hot path never
touches the store; the store is checked for changes (one ``stat`` for the
file store) at most once per ``check_interval`` seconds, which is how a
rotation made by another process is picked up without a restart.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ._json import dumps_compact
from .errors import KeyStoreError
from .keys import SigningKey, VerifyingKey
from .keyset import KeySet, from_document, to_document
from .rotation import RotationPolicy, initial_keyset, is_due, maintain, revoke, rotate
from .signers.base import KeySigner
from .signers.local import LocalSigner
from .stores.base import KeyStore

__all__ = ["KeyRing", "KeyRingView"]

CHECK_INTERVAL: Final = 0.5

logger = logging.getLogger("jwtseal.keyring")


@dataclass(frozen=True, slots=True)
class KeyRingView:
    """Everything the hot path needs from one key set, computed once."""

    keyset: KeySet
    revision: Hashable
    signing_key: SigningKey
    by_kid: MappingProxyType[str, VerifyingKey]
    jwks_json: bytes
    etag: str

    @classmethod
    def of(cls, keyset: KeySet, revision: Hashable) -> KeyRingView:
        jwks_json = dumps_compact(keyset.jwks())
        etag = '"' + hashlib.sha256(jwks_json).hexdigest()[:32] + '"'
        by_kid = MappingProxyType({record.kid: record.public for record in keyset.keys})
        return cls(keyset, revision, keyset.signing_key, by_kid, jwks_json, etag)


class KeyRing:
    """Loads, creates, rotates and serves the key set of one store.

    ``signer`` holds the private halves (in memory by default, or a KMS);
    ``make_key``, when given, replaces its way of making new keys.
    """

    def __init__(
        self,
        store: KeyStore,
        policy: RotationPolicy,
        *,
        clock: Callable[[], float] = time.time,
        make_key: Callable[[str], SigningKey] | None = None,
        check_interval: float = CHECK_INTERVAL,
        signer: KeySigner | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.signer = signer or LocalSigner()
        self._clock = clock
        self._make_key = make_key or self.signer.generate
        self._check_interval = check_interval
        self._view: KeyRingView | None = None
        self._next_check = 0.0
        self._reload_lock = threading.Lock()

    def view(self) -> KeyRingView:
        """The current snapshot; reloads when the store changed since the last look.

        A store that turns unreadable or corrupt later is logged and the last
        good snapshot kept (``/readyz`` reports it), so signing goes on.

        Raises:
            KeyStoreError: the store is unreadable or corrupt on first load.
        """
        view = self._view
        if view is not None and time.monotonic() < self._next_check:
            return view
        with self._reload_lock:
            self._next_check = time.monotonic() + self._check_interval
            if self._view is None or self.store.revision() != self._view.revision:
                self._reload()
            assert self._view is not None
            return self._view

    def _reload(self) -> None:
        """Load the changed store; on failure keep serving the last good key set."""
        try:
            self._view = self._load_or_create()
        except KeyStoreError as exc:
            if self._view is None:
                raise
            fields = {"detail": exc.detail, "serving_version": self._view.keyset.version}
            logger.warning("key store unreadable; serving the last good key set", extra={"fields": fields})

    def check_store(self) -> None:
        """Read and validate the stored key set now, bypassing the snapshot.

        Raises:
            KeyStoreError: the store is unreadable, empty or corrupt.
        """
        document = self.store.load()
        if document is None:
            raise KeyStoreError("The key store holds no key set.")
        from_document(document, self.signer.load)

    def find(self, kid: str) -> VerifyingKey | None:
        """The published key with ``kid``: the verifier's key source."""
        return self.view().by_kid.get(kid)

    def rotate(self) -> KeySet:
        """Promote the next key now, retire the current one, make a new next.

        Raises:
            KeyStoreError: the store is unreadable or corrupt.
        """
        return self._change(lambda keyset, now: rotate(keyset, self.policy, now, self._make_key))

    def revoke(self, kid: str) -> KeySet:
        """Remove ``kid`` from the key set at once (see :func:`jwtseal.rotation.revoke`).

        Raises:
            UnknownKid: no published key has ``kid``.
            KeyStoreError: the store is unreadable or corrupt.
        """
        return self._change(lambda keyset, now: revoke(keyset, kid, self.policy, now, self._make_key))

    def maintain(self) -> KeySet | None:
        """Rotate or remove keys when due; cheap when nothing is (no lock, no I/O).

        Several processes may call this on one store: the check is repeated
        under the store's lock on the freshly loaded key set, so exactly one
        of them rotates.

        Returns:
            The new key set, or ``None`` when nothing was due.
        """
        if not is_due(self.view().keyset, self.now()):
            return None
        with self.store.lock():
            keyset, now = self._load_locked(), self.now()
            if not is_due(keyset, now):
                return None
            changed = maintain(keyset, self.policy, now, self._make_key)
            self._save_locked(changed, keyset)
        self._next_check = 0.0
        return changed

    def _change(self, step: Callable[[KeySet, int], KeySet]) -> KeySet:
        with self.store.lock():
            before = self._load_locked()
            keyset = step(before, self.now())
            self._save_locked(keyset, before)
        self._next_check = 0.0
        return keyset

    def _load_or_create(self) -> KeyRingView:
        """Load the key set; only a key ring that never had one may create it.

        Raises:
            KeyStoreError: unreadable or corrupt, or gone after it existed.
        """
        with self.store.lock():
            revision = self.store.revision()
            document = self.store.load()
            if document is None and self._view is not None:
                raise KeyStoreError("The key set disappeared from the store.")
            if document is None:
                keyset = initial_keyset(self.policy, self.now(), self._make_key)
                self._save_locked(keyset)
                revision = self.store.revision()
            else:
                keyset = from_document(document, self.signer.load)
        return KeyRingView.of(keyset, revision)

    def _load_locked(self) -> KeySet:
        document = self.store.load()
        if document is None:
            return initial_keyset(self.policy, self.now(), self._make_key)
        return from_document(document, self.signer.load)

    def _save_locked(self, keyset: KeySet, before: KeySet | None = None) -> None:
        """Save and publish; then the signer may let go of the keys that left the JWKS."""
        self.store.save(to_document(keyset))
        self.store.publish(keyset.jwks())
        if before is not None:
            gone = {record.kid for record in before.keys} - {record.kid for record in keyset.keys}
            if gone:
                self.signer.release(gone)

    def now(self) -> int:
        """The key ring's clock, in whole Unix seconds."""
        return int(self._clock())
