"""Private keys encrypted at rest: each private JWK wrapped under a key-encryption key.

Each private key is sealed directly under the key-encryption key (KEK) with
AES-256-GCM, a fresh 96-bit nonce per wrap, and associated data that binds
the record to its ``kid`` and to the KEK's id, so a wrapped key moved onto
another record, or relabelled with another KEK id, fails to open. A random
data key per private key would add a layer without a gain here: the KEK is
held locally (not in a KMS that refuses bulk data), each plaintext is one
small JWK, and one GCM key wraps far fewer than the 2**32 messages its
random nonces allow.

Like :class:`cryptography.fernet.MultiFernet`, a list of KEKs rotates: the
first one wraps, every one unwraps, and ``jwtseal keys rewrap`` wraps every
private key again under the first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import KeyStoreError

__all__ = ["KeyEncryptionKeys"]

KEY_SIZE: Final = 32
NONCE_SIZE: Final = 12
WRAP_ALG: Final = "A256GCM"
_AAD_PREFIX: Final = b"jwtseal/wrapped-private-key-v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Raises ValueError: not base64url."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, TypeError) as exc:
        raise ValueError("not base64url") from exc


def _kek_id(key: bytes) -> str:
    """A public name for a KEK: a hash, so the id reveals nothing usable about the key."""
    return "kek-" + hashlib.sha256(b"jwtseal kek id\x00" + key).hexdigest()[:16]


def _aad(kid: str, kek_id: str) -> bytes:
    return b"\x00".join((_AAD_PREFIX, kid.encode("utf-8"), kek_id.encode("ascii")))


class KeyEncryptionKeys:
    """One or more 32-byte KEKs: the first wraps, every one unwraps.

    ``repr`` shows only the KEK ids.

    Raises:
        ValueError: no key, or a key that is not 32 bytes.
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key-encryption key is needed")
        if any(len(key) != KEY_SIZE for key in keys):
            raise ValueError(f"a key-encryption key must be {KEY_SIZE} random bytes")
        self._keys = {_kek_id(key): AESGCM(key) for key in keys}
        self.primary_id = _kek_id(keys[0])

    @classmethod
    def parse(cls, text: str) -> KeyEncryptionKeys:
        """Comma-separated base64url keys, as ``JWTSEAL_KEY_ENCRYPTION_KEY`` holds them.

        Raises:
            ValueError: empty, not base64url, or a key that is not 32 bytes.
        """
        return cls([_unb64(part.strip()) for part in text.split(",") if part.strip()])

    @staticmethod
    def generate() -> str:
        """A new random KEK in the form ``JWTSEAL_KEY_ENCRYPTION_KEY`` takes."""
        return _b64(os.urandom(KEY_SIZE))

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def __repr__(self) -> str:
        return f"KeyEncryptionKeys(ids={list(self._keys)!r})"

    def wrap(self, kid: str, private_jwk: dict[str, Any]) -> dict[str, str]:
        """The private JWK sealed under the first KEK, with that KEK's id beside it."""
        nonce = os.urandom(NONCE_SIZE)
        plaintext = json.dumps(private_jwk, separators=(",", ":"), sort_keys=True).encode()
        sealed = self._keys[self.primary_id].encrypt(nonce, plaintext, _aad(kid, self.primary_id))
        return {"alg": WRAP_ALG, "kek": self.primary_id, "iv": _b64(nonce), "ciphertext": _b64(sealed)}

    def unwrap(self, kid: str, wrapped: Any) -> dict[str, Any]:
        """Open a wrapped private key of record ``kid``.

        Raises:
            KeyStoreError: the KEK it names is not configured, or it does not
                open (a wrong KEK, or a record that was tampered with or moved);
                the message names the key id and the KEK id.
        """
        try:
            kek_id, nonce, sealed = wrapped["kek"], _unb64(wrapped["iv"]), _unb64(wrapped["ciphertext"])
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyStoreError(f"The wrapped private key {kid} is corrupt; refusing to use it.") from exc
        if wrapped.get("alg") != WRAP_ALG:
            raise KeyStoreError(f"The private key {kid} is wrapped with an unknown method; refusing it.")
        aead = self._keys.get(kek_id) if isinstance(kek_id, str) else None
        if aead is None:
            raise KeyStoreError(
                f"The private key {kid} is wrapped under key-encryption key {kek_id}, which is not "
                f"among the configured ones ({', '.join(self._keys)})."
            )
        try:
            plaintext = aead.decrypt(nonce, sealed, _aad(kid, kek_id))
        except InvalidTag as exc:
            raise KeyStoreError(
                f"The private key {kid} does not open with key-encryption key {kek_id}: "
                "a wrong key, or a record that was altered."
            ) from exc
        document: dict[str, Any] = json.loads(plaintext)
        return document
