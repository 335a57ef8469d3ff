"""Settings, read once at the edge: command flag, else environment, else default.

Library classes never read ``os.environ``; the edges build a :class:`Settings`
from their flags and the environment they are handed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from ._algorithms import ALGORITHMS

__all__ = ["Settings", "SettingsError"]

T = TypeVar("T")
DEFAULT_PORT: Final = 8000


class SettingsError(ValueError):
    """A setting has a value jwtseal cannot use; the message names the variable."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = Path(".jwtseal")
    issuer: str = f"http://localhost:{DEFAULT_PORT}"
    algorithm: str = "RS256"
    token_ttl: int = 86_400
    max_token_ttl: int = 86_400
    api_keys: tuple[str, ...] = ()
    trusted_jwks_uris: tuple[str, ...] = ()
    leeway: int = 60
    rotation_period: int = 2_592_000
    jwks_max_age: int = 300

    def __repr__(self) -> str:
        shown = "'**********'" if self.api_keys else "()"
        return f"Settings(data_dir={str(self.data_dir)!r}, issuer={self.issuer!r}, api_keys={shown})"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/jwks.json"

    @classmethod
    def load(cls, environ: Mapping[str, str], **flags: Any) -> Settings:
        """Build settings from flags (``None`` means not given) and ``environ``.

        Raises:
            SettingsError: a value is not valid; the message names its source.
        """
        given = {name: value for name, value in flags.items() if value is not None}

        def pick(name: str, parse: Callable[[str], T], default: T) -> T:
            if name in given:
                return given[name]  # type: ignore[no-any-return]
            variable = f"JWTSEAL_{name.upper()}"
            if variable not in environ:
                return default
            try:
                return parse(environ[variable])
            except ValueError as exc:
                raise SettingsError(f"{variable}={environ[variable]!r} is not valid: {exc}") from exc

        host = given.get("host", "127.0.0.1")
        port = int(given.get("port", DEFAULT_PORT))
        settings = cls(
            host=host,
            port=port,
            data_dir=pick("data_dir", Path, Path(".jwtseal")),
            issuer=pick("issuer", str, base_url(host, port)),
            algorithm=pick("algorithm", _algorithm, "RS256"),
            token_ttl=pick("token_ttl", _positive, 86_400),
            max_token_ttl=pick("max_token_ttl", _positive, 86_400),
            api_keys=pick("api_keys", _split, ()),
            trusted_jwks_uris=pick("trusted_jwks_uris", _split, ()),
            leeway=pick("leeway", _non_negative, 60),
            rotation_period=pick("rotation_period", _positive, 2_592_000),
            jwks_max_age=pick("jwks_max_age", _positive, 300),
        )
        if settings.token_ttl > settings.max_token_ttl:
            raise SettingsError("JWTSEAL_TOKEN_TTL must not exceed JWTSEAL_MAX_TOKEN_TTL.")
        return settings


def base_url(host: str, port: int) -> str:
    """The URL a local client reaches the service at: the default issuer."""
    host = "localhost" if host in ("0.0.0.0", "::") else host  # noqa: S104 - a comparison, not a bind
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def _algorithm(value: str) -> str:
    if value not in ALGORITHMS:
        raise ValueError(f"choose one of {', '.join(ALGORITHMS)}")
    return value


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be a positive whole number of seconds")
    return number


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must not be negative")
    return number
