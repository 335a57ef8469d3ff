"""The key ring: the key set of a store, held in memory and kept fresh.

Signing and verifying read an immutable snapshot, so the hot path never
touches the store; the store is checked for changes (one ``stat`` for the
file store) at most once per ``check_interval`` seconds, which is how a
rotation made by another process is picked up without a restart.

A networked store (PostgreSQL) is never read on the request path at all:
:meth:`KeyRing.refresh` runs from a background task (the service's key
maintenance, every second). While the store is unreachable the key ring is
*degraded*: verifying and the JWKS go on from memory, signing goes on with
the current key until its retirement time, and :meth:`KeyRing.check_store`
says why.
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
from .errors import ConcurrentUpdate, KeyStoreError, SigningUnavailable
from .keys import SigningKey, VerifyingKey
from .keyset import KeySet, from_document, to_document
from .rotation import RotationPolicy, initial_keyset, is_due, maintain, revoke, rotate
from .signers.base import KeySigner
from .signers.local import LocalSigner
from .stores.base import KeyStore, StoreUnreachable
from .wrapping import KeyEncryptionKeys

__all__ = ["KeyRing", "KeyRingView"]

CHECK_INTERVAL: Final = 0.5
WRITE_ATTEMPTS: Final = 3  # a writer that lost a compare-and-swap reloads and tries again
SIGNING_RETRY_AFTER: Final = 5

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
        wrapping: KeyEncryptionKeys | None = None,
        background: bool = False,
    ) -> None:
        self.store = store
        self.policy = policy
        self.signer = signer or LocalSigner()
        self.wrapping = wrapping
        self._clock = clock
        self._make_key = make_key or self.signer.generate
        self._check_interval = check_interval
        self._background = background
        self._view: KeyRingView | None = None
        self._next_check = 0.0
        self._reload_lock = threading.Lock()
        self._problem: str | None = "the key store has not been read yet"

    def view(self) -> KeyRingView:
        """The current snapshot; reloads when the store changed since the last look.

        A store that turns unreadable or corrupt later is logged and the last
        good snapshot kept (``/readyz`` reports it), so signing goes on. A
        key ring refreshed in the ``background`` never reads its store here.

        Raises:
            KeyStoreError: the store is unreadable or corrupt on first load,
                or (in the background) not read successfully yet.
        """
        view = self._view
        if view is not None and (self._background or time.monotonic() < self._next_check):
            return view
        if self._background:
            raise KeyStoreError(f"Waiting for the key store: {self._problem}")
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

    def refresh(self) -> None:
        """Check the store now and load a changed key set: the background task's step.

        Raises:
            KeyStoreError: the store is unreachable, unreadable or corrupt; the
                last good key set stays in use and the key ring is degraded.
        """
        self._refresh(settle=True)

    def _refresh(self, *, settle: bool) -> None:
        """Load a changed key set; ``settle`` ends a degraded spell even if a rotation is due.

        ``maintain`` passes ``settle=False``: a store that comes back while the
        current key is past its retirement stays degraded, so nothing signs
        with that key, until the due rotation is written.
        """
        with self._reload_lock:
            try:
                if self._view is None or self.store.revision() != self._view.revision:
                    self._view = self._load_or_create()
            except KeyStoreError as exc:
                self._problem = exc.detail
                raise
            if settle or not is_due(self._view.keyset, self.now()):
                self._problem = None

    def start(self) -> None:
        """Load the key set once before serving.

        In the background, an unreachable store is waited for (``/readyz``
        says why) instead of stopping the service.

        Raises:
            KeyStoreError: the store is unreadable or corrupt (a wrong KEK
                names the key id), or unreachable when not in the background.
        """
        if not self._background:
            self.view()
            return
        try:
            self.refresh()
        except StoreUnreachable as exc:
            logger.warning("waiting for the key store", extra={"fields": {"detail": exc.detail}})

    def check_store(self) -> None:
        """Read and validate the stored key set now, bypassing the snapshot.

        In the background the store is not read here: the last refresh's
        outcome answers.

        Raises:
            KeyStoreError: the store is unreadable, empty or corrupt; in the
                background, not loaded yet, or degraded.
        """
        if self._background:
            self._check_background()
            return
        document = self.store.load()
        if document is None:
            raise KeyStoreError("The key store holds no key set.")
        self._from_document(document)

    def _check_background(self) -> None:
        view = self._view
        if view is None:
            raise KeyStoreError(f"Waiting for the key store: {self._problem}")
        if self._problem is not None:
            retires = view.keyset.current.retires_at
            raise KeyStoreError(
                f"Degraded: {self._problem} Serving key set version {view.keyset.version} from memory; "
                f"signing until the current key retires at {retires}."
            )

    def check_signing(self) -> None:
        """Whether the current key may sign: not past its retirement while the store is away.

        Raises:
            SigningUnavailable: in the background, no key set yet, or the
                store is unreachable and the current key's time is up.
        """
        if not self._background:
            return
        view = self._view
        if view is None:
            detail = f"Waiting for the key store: {self._problem}"
            raise SigningUnavailable(detail, retry_after=SIGNING_RETRY_AFTER)
        if self._problem is not None and self.now() >= view.keyset.current.retires_at:
            raise SigningUnavailable(
                "The current key has reached its retirement time and the key store cannot be "
                "reached to rotate it.",
                retry_after=SIGNING_RETRY_AFTER,
            )

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

        In the background the store is refreshed first.

        Returns:
            The new key set, or ``None`` when nothing was due.

        Raises:
            KeyStoreError: the store is unreachable, unreadable or corrupt.
        """
        if self._background:
            self._refresh(settle=False)
        if not is_due(self.view().keyset, self.now()):
            return None
        try:
            return self._write(self._maintained)
        except KeyStoreError as exc:
            self._problem = exc.detail  # a rotation that cannot be written: degraded until it can
            raise

    def _maintained(self) -> KeySet | None:
        keyset, now = self._load_locked(), self.now()
        if not is_due(keyset, now):
            return None
        changed = maintain(keyset, self.policy, now, self._make_key)
        self._save_locked(changed, keyset)
        return changed

    def rewrap(self) -> KeySet:
        """Write every private key again, wrapped under the first key-encryption key.

        Raises:
            KeyStoreError: no KEK is set, or the store is unreadable or corrupt
                (a private key no configured KEK opens is named, nothing written).
        """
        if self.wrapping is None:
            raise KeyStoreError(
                "keys rewrap needs a key-encryption key: set JWTSEAL_KEY_ENCRYPTION_KEY "
                "or JWTSEAL_KEY_ENCRYPTION_KEY_FILE."
            )
        return self._change(lambda keyset, now: KeySet(keyset.version + 1, keyset.keys))

    def _change(self, step: Callable[[KeySet, int], KeySet]) -> KeySet:
        def change() -> KeySet:
            before = self._load_locked()
            keyset = step(before, self.now())
            self._save_locked(keyset, before)
            return keyset

        changed = self._write(change)
        assert changed is not None
        return changed

    def _write(self, attempt: Callable[[], KeySet | None]) -> KeySet | None:
        """Run a read-modify-write under the store's lock; in the background a lost swap reloads and retries.

        Raises:
            ConcurrentUpdate: lost every attempt (never expected under the lock).
            KeyStoreError: the store is unreachable, unreadable or corrupt.
        """
        attempts = 1
        allowed = WRITE_ATTEMPTS if self._background else 1  # others retry where they choose (aws/keys.py)
        while True:
            try:
                with self.store.lock():
                    changed = attempt()
            except ConcurrentUpdate:
                if attempts == allowed:
                    raise
                attempts += 1
                logger.info("the key store changed under a write; reloading", extra={"fields": {}})
                continue
            self._next_check = 0.0
            if self._background:
                self.refresh()  # serve what was just written, not the key set it replaced
            return changed

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
                keyset = self._from_document(document)
        return KeyRingView.of(keyset, revision)

    def _load_locked(self) -> KeySet:
        document = self.store.load()
        if document is None:
            return initial_keyset(self.policy, self.now(), self._make_key)
        return self._from_document(document)

    def _from_document(self, document: object) -> KeySet:
        """The stored key set, its private keys unwrapped and loaded by this ring's signer."""
        return from_document(document, self.wrapping, self.signer.load)

    def _save_locked(self, keyset: KeySet, before: KeySet | None = None) -> None:
        """Save and publish; then the signer may let go of the keys that left the JWKS."""
        self.store.save(to_document(keyset, self.wrapping))
        self.store.publish(keyset.jwks())
        if before is not None:
            gone = {record.kid for record in before.keys} - {record.kid for record in keyset.keys}
            if gone:
                self.signer.release(gone)

    def now(self) -> int:
        """The key ring's clock, in whole Unix seconds."""
        return int(self._clock())
