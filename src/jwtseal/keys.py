"""Signing and verifying keys: one algorithm each, and secrets that never print.

The algorithm belongs to the key, never to the caller or a token header, so
a key cannot be used with another algorithm ("alg switching").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from ._algorithms import ALGORITHMS, Algorithm, PrivateKey, PublicKey, Signer, Verifier
from ._jwk import (
    Jwk,
    algorithm_for,
    load_private,
    load_public,
    private_members,
    public_members,
    thumbprint,
)
from ._jws import encode_header
from .errors import InvalidKey

__all__ = ["SigningKey", "VerifyingKey"]


@dataclass(frozen=True, slots=True, repr=False)
class VerifyingKey:
    """A public key bound to one algorithm and one ``kid``."""

    kid: str
    algorithm: Algorithm
    _key: PublicKey = field(compare=False)
    _verify: Verifier = field(init=False, compare=False)  # the key bound once: see Algorithm

    def __post_init__(self) -> None:
        object.__setattr__(self, "_verify", self.algorithm.verifier(self._key))

    @property
    def alg(self) -> str:
        return self.algorithm.name

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> VerifyingKey:
        """Import a public JWK; private members are ignored.

        Raises:
            InvalidKey: unsupported algorithm or key type, weak RSA key, bad
                numbers, or a ``kid`` that is missing or not a string.
        """
        key_ops = jwk.get("key_ops")
        if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
            raise InvalidKey("The JWK's key_ops do not allow verification.")
        algorithm = algorithm_for(jwk)
        key = load_public(jwk, algorithm)
        kid = jwk["kid"] if "kid" in jwk else thumbprint(key)
        if not isinstance(kid, str) or not kid:
            raise InvalidKey("The JWK's kid must be a non-empty string.")
        return cls(kid, algorithm, key)

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's signature over ``signing_input``."""
        return self._verify(signing_input, signature)

    def to_jwk(self) -> Jwk:
        """The public JWK, as published in the JWKS."""
        jwk: dict[str, str] = {**public_members(self._key), "kid": self.kid}
        jwk.update(use="sig", alg=self.alg)
        return jwk  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"VerifyingKey(kid={self.kid!r}, alg={self.alg!r})"


@dataclass(frozen=True, slots=True, repr=False)
class SigningKey:
    """A private key bound to one algorithm; its ``kid`` is its RFC 7638 thumbprint.

    ``repr`` and ``str`` show only ``kid`` and ``alg``: key material never
    reaches a log by accident. A key made by :meth:`held_elsewhere` has no
    private half here at all: ``held_by`` names the service that signs.
    """

    kid: str
    algorithm: Algorithm
    _key: PrivateKey | None = field(compare=False)
    public: VerifyingKey = field(compare=False)
    header_segment: str = field(compare=False)
    header_prefix: bytes = field(compare=False)  # header_segment + ".", ready to sign after
    _sign: Signer = field(init=False, compare=False)  # the key bound once: see Algorithm
    held_by: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self._key is not None:
            object.__setattr__(self, "_sign", self.algorithm.signer(self._key))

    @property
    def alg(self) -> str:
        return self.algorithm.name

    @classmethod
    def generate(cls, alg: str = "RS256") -> SigningKey:
        """A new random key for ``alg`` (RS* and PS* keys are RSA-2048, ES512 keys P-521).

        Raises:
            InvalidKey: ``alg`` is not in the registry (RS256, RS384, RS512,
                PS256, PS384, PS512, ES256, ES384, ES512, EdDSA).
        """
        if alg not in ALGORITHMS:
            raise InvalidKey(f"Unsupported algorithm {alg!r}.")
        return cls._wrap(ALGORITHMS[alg], ALGORITHMS[alg].generate())

    @classmethod
    def from_private_jwk(cls, jwk: dict[str, Any]) -> SigningKey:
        """Load a key written by :meth:`to_private_jwk`.

        Raises:
            InvalidKey: the JWK is not a consistent private key.
        """
        algorithm = algorithm_for(jwk)
        key = cls._wrap(algorithm, load_private(jwk, algorithm))
        if jwk.get("kid", key.kid) != key.kid:
            raise InvalidKey("The stored kid is not the key's thumbprint.")
        return key

    @classmethod
    def _wrap(cls, algorithm: Algorithm, key: PrivateKey) -> SigningKey:
        public_key = key.public_key()
        kid = thumbprint(public_key)
        public = VerifyingKey(kid, algorithm, public_key)
        header = encode_header(algorithm.name, kid)
        return cls(kid, algorithm, key, public, header, f"{header}.".encode("ascii"))

    @classmethod
    def held_elsewhere(cls, public: VerifyingKey, sign: Signer, held_by: str) -> SigningKey:
        """A key whose private half another service keeps (a KMS key): ``sign`` asks it.

        ``held_by`` (the KMS key's ARN, say) is what the key store keeps
        beside the public JWK; see :meth:`to_private_jwk`.
        """
        header = encode_header(public.alg, public.kid)
        key = cls(public.kid, public.algorithm, None, public, header, f"{header}.".encode("ascii"), held_by)
        object.__setattr__(key, "_sign", sign)
        return key

    def sign(self, signing_input: bytes) -> bytes:
        return self._sign(signing_input)

    def to_private_jwk(self) -> dict[str, str]:
        """The private JWK, for a key store only: never publish or log it.

        A key held elsewhere has none: its stored form is the public JWK and
        ``held_by``.
        """
        if self._key is None:
            return {**cast("dict[str, str]", self.public.to_jwk()), "held_by": self.held_by or ""}
        public = {**public_members(self._key.public_key()), "kid": self.kid, "use": "sig", "alg": self.alg}
        return {**public, **private_members(self._key)}

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, alg={self.alg!r})"
