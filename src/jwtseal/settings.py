"""Settings, read once at the edge: command flag, else environment, else default.

This is the one module that reads the process environment (:func:`environment`);
the edges (the CLI, ``serve``'s workers, the Lambda entry points) hand it to
:meth:`Settings.load`, and library classes never see it. :data:`SETTINGS` is
the one table of variables, one row per field of :class:`Settings`:
``jwtseal serve --help`` and the README show it, and a test holds every
``JWTSEAL_*`` name in ``src/`` to it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ._algorithms import ALGORITHMS
from ._netguard import AddressGuard
from .wrapping import KeyEncryptionKeys

__all__ = [
    "SETTINGS",
    "Setting",
    "Settings",
    "SettingsError",
    "environment",
    "settings_help",
    "store_url",
    "worker_environment",
]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8000


class SettingsError(ValueError):
    """A setting has a value jwtseal cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment variable: the field it fills, how to parse it, its default."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    meaning: str
    shown_default: str

    @property
    def variable(self) -> str:
        return f"JWTSEAL_{self.name.upper()}"


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _trusted_prefixes(value: str) -> tuple[str, ...]:
    prefixes = _split(value)
    AddressGuard(prefixes)  # raises ValueError naming the bad prefix
    return prefixes


def _algorithm(value: str) -> str:
    if value not in ALGORITHMS:
        raise ValueError(f"choose one of {', '.join(ALGORITHMS)}")
    return value


SIGNERS: Final = ("local", "aws-kms")


def _signer(value: str) -> str:
    if value not in SIGNERS:
        raise ValueError(f"choose one of {', '.join(SIGNERS)}")
    return value


def _kms_key_ring(value: str) -> str:
    if not 1 <= len(value) <= 128:
        raise ValueError("a name of 1 to 128 characters")
    return value


def _kms_deletion_days(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or not 7 <= int(value) <= 30:
        raise ValueError("7 to 30 days")
    return int(value)


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


def _port(value: str) -> int:
    number = int(value)
    if not 0 <= number < 65536:
        raise ValueError("must be a port number from 0 to 65535")
    return number


def _seconds(value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise ValueError("a whole number of seconds.")
    return int(value)


def _store(value: str) -> str | None:
    if not value:
        return None
    if not value.startswith(("postgresql://", "postgres://")):
        raise ValueError("give a postgresql:// URL, or leave it unset for the file store")
    return value


def _key_encryption_keys(value: str) -> KeyEncryptionKeys:
    try:
        return KeyEncryptionKeys.parse(value)
    except ValueError as exc:
        hint = "32 random bytes, base64url; a comma-separated list while rotating"
        raise ValueError(f"{exc} ({hint})") from exc


MAX_KEK_FILE: Final = 4096
_SECRETS: Final = frozenset({"key_encryption_key", "store"})  # a URL may hold a password


SETTINGS: Final = (
    Setting("data_dir", Path, Path(".jwtseal"), "where the embedded file store keeps keys", "./.jwtseal"),
    Setting("issuer", str, None, "the iss claim and the discovery issuer", "http://HOST:PORT"),
    Setting(
        "algorithm",
        _algorithm,
        "RS256",
        "signing algorithm of new keys: RS256, RS384, RS512, PS256, PS384, PS512 (RSA 2048),"
        " ES256, ES384, ES512 (P-521), EdDSA (Ed25519)",
        "RS256",
    ),
    Setting("token_ttl", _positive, 86_400, "seconds from iat to exp when the client sets no exp", "86400"),
    Setting("max_token_ttl", _positive, 86_400, "the longest lifetime a client may ask for", "86400"),
    Setting(
        "api_keys",
        _split,
        (),
        "comma-separated bearer keys allowed to call POST /encode",
        "one generated on first start, printed once, only its hash kept",
    ),
    Setting(
        "trusted_jwks_uris",
        _trusted_prefixes,
        (),
        "comma-separated URI prefixes POST /decode may fetch (plain http and private addresses then allowed)",
        "any https URI whose host resolves only to public addresses",
    ),
    Setting("leeway", _non_negative, 60, "seconds of clock skew allowed on exp, nbf, iat", "60"),
    Setting("rotation_period", _positive, 2_592_000, "seconds between automatic rotations", "2592000"),
    Setting("jwks_max_age", _positive, 300, "Cache-Control max-age of the JWKS, in seconds", "300"),
    Setting("host", str, DEFAULT_HOST, "the interface serve listens on (also --host)", DEFAULT_HOST),
    Setting("port", _port, DEFAULT_PORT, "the port serve listens on (also --port)", str(DEFAULT_PORT)),
    Setting(
        "metrics_dir",
        Path,
        None,
        "where the workers of serve --workers N share their metric counts",
        "a temporary directory, removed when serve stops",
    ),
    Setting(
        "secret_id",
        str,
        None,
        "the AWS Secrets Manager secret holding the key set, instead of the data dir (jwtseal[aws])",
        "unset: the file store in the data dir",
    ),
    Setting(
        "bucket",
        str,
        None,
        "the S3 bucket jwks.json is published to, with the AWS store",
        "unset: not published",
    ),
    Setting(
        "secret_cache_ttl",
        _seconds,
        None,
        "seconds the AWS store reuses the secret it read",
        "5 for serve, 300 in the Lambda functions",
    ),
    Setting(
        "signer",
        _signer,
        "local",
        "local (jwtseal holds the private keys) or aws-kms (each key an asymmetric AWS KMS key"
        " that never leaves KMS; region and credentials from the usual AWS variables)",
        "local",
    ),
    Setting(
        "kms_key_ring",
        _kms_key_ring,
        "jwtseal",
        "with aws-kms, the name jwtseal tags its KMS keys with, so key rings sharing an account keep apart",
        "jwtseal",
    ),
    Setting(
        "kms_deletion_days",
        _kms_deletion_days,
        30,
        "with aws-kms, the days KMS waits (7 to 30) before deleting a key that left the JWKS",
        "30",
    ),
    Setting(
        "store",
        _store,
        None,
        "where the key ring lives: a postgresql:// URL for the PostgreSQL store shared by replicas",
        "the file store in the data dir",
    ),
    Setting(
        "key_encryption_key",
        _key_encryption_keys,
        None,
        "key-encryption key wrapping every private key at rest (32 random bytes, base64url; "
        "a comma-separated list while rotating: the first wraps, all unwrap); "
        "or JWTSEAL_KEY_ENCRYPTION_KEY_FILE naming a file that holds it",
        "unset: the file store keeps private keys in 0600 files",
    ),
    Setting(
        "key_encryption_key_file",
        Path,
        None,
        "a file holding the key-encryption key, instead of JWTSEAL_KEY_ENCRYPTION_KEY",
        "unset",
    ),
)


def base_url(host: str, port: int) -> str:
    """The URL a local client reaches the service at: the default issuer."""
    host = "localhost" if host in ("0.0.0.0", "::") else host  # noqa: S104 - a comparison, not a bind
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = Path(".jwtseal")
    issuer: str = base_url(DEFAULT_HOST, DEFAULT_PORT)
    algorithm: str = "RS256"
    token_ttl: int = 86_400
    max_token_ttl: int = 86_400
    api_keys: tuple[str, ...] = ()
    trusted_jwks_uris: tuple[str, ...] = ()
    leeway: int = 60
    rotation_period: int = 2_592_000
    jwks_max_age: int = 300
    metrics_dir: Path | None = None
    secret_id: str | None = None
    bucket: str | None = None
    secret_cache_ttl: int | None = None
    signer: str = "local"
    kms_key_ring: str = "jwtseal"
    kms_deletion_days: int = 30
    store: str | None = None
    key_encryption_key: KeyEncryptionKeys | None = None
    key_encryption_key_file: Path | None = None

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
        values = {setting.name: _pick(setting, given, environ) for setting in SETTINGS}
        if values["key_encryption_key_file"] is not None:
            if values["key_encryption_key"] is not None:
                both = "Set JWTSEAL_KEY_ENCRYPTION_KEY or JWTSEAL_KEY_ENCRYPTION_KEY_FILE, not both."
                raise SettingsError(both)
            values["key_encryption_key"] = _key_encryption_key_file(values["key_encryption_key_file"])
        if values["issuer"] is None:
            values["issuer"] = base_url(values["host"], int(values["port"]))
        settings = cls(**values)
        if settings.token_ttl > settings.max_token_ttl:
            raise SettingsError("JWTSEAL_TOKEN_TTL must not exceed JWTSEAL_MAX_TOKEN_TTL.")
        if settings.jwks_max_age > settings.rotation_period:
            raise SettingsError("JWTSEAL_JWKS_MAX_AGE must not exceed JWTSEAL_ROTATION_PERIOD.")
        if settings.store is not None and settings.key_encryption_key is None:
            raise SettingsError(
                "JWTSEAL_STORE=postgresql://... needs JWTSEAL_KEY_ENCRYPTION_KEY or "
                "JWTSEAL_KEY_ENCRYPTION_KEY_FILE: a database dump must never hold a usable private key."
            )
        return settings


def store_url(environ: Mapping[str, str]) -> str | None:
    """The ``JWTSEAL_STORE`` URL, or ``None`` for the file store.

    Raises:
        SettingsError: not a ``postgresql://`` URL.
    """
    setting = next(setting for setting in SETTINGS if setting.name == "store")
    value: str | None = _pick(setting, {}, environ)
    return value


def _key_encryption_key_file(path: Path) -> KeyEncryptionKeys:
    """The KEK read from the file ``JWTSEAL_KEY_ENCRYPTION_KEY_FILE`` names.

    Raises:
        SettingsError: the file unreadable, too big or not a KEK.
    """
    try:
        with open(path, "rb") as file:
            text = file.read(MAX_KEK_FILE + 1).decode("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"JWTSEAL_KEY_ENCRYPTION_KEY_FILE={str(path)!r} cannot be read.") from exc
    if len(text) > MAX_KEK_FILE:
        too_big = f"JWTSEAL_KEY_ENCRYPTION_KEY_FILE={str(path)!r} is larger than {MAX_KEK_FILE} bytes."
        raise SettingsError(too_big)
    try:
        return _key_encryption_keys(text.strip())
    except ValueError as exc:  # never echo the file's content: it is a secret
        raise SettingsError(f"JWTSEAL_KEY_ENCRYPTION_KEY_FILE={str(path)!r} is not valid: {exc}") from exc


def _pick(setting: Setting, given: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    if setting.name in given:
        return given[setting.name]
    raw = environ.get(setting.variable)
    if raw is None:
        return setting.default
    try:
        return setting.parse(raw)
    except ValueError as exc:
        shown = "'**********'" if setting.name in _SECRETS else repr(raw)
        raise SettingsError(f"{setting.variable}={shown} is not valid: {exc}") from exc


def environment() -> Mapping[str, str]:
    """The process environment: read here and nowhere else in jwtseal."""
    return os.environ


def worker_environment(settings: Settings, metrics_dir: Path) -> dict[str, str]:
    """The environment of ``serve``'s workers: the parent's, with what the parent resolved.

    Each worker is a fresh interpreter that loads its settings again; the data
    dir is made absolute and the issuer fixed (it follows the parent's host
    and port), so every worker builds the same service.
    """
    resolved = {
        "data_dir": settings.data_dir.resolve(),
        "issuer": settings.issuer,
        "metrics_dir": metrics_dir,
    }
    return {**environment(), **{f"JWTSEAL_{name.upper()}": str(value) for name, value in resolved.items()}}


def settings_help() -> str:
    """The settings table for ``--help``: variable, meaning, default."""
    return "\n".join(f"{s.variable}: {s.meaning} [default: {s.shown_default}]" for s in SETTINGS)
