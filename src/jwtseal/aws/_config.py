"""What the Lambda functions read from their environment, once per container.

The jwtseal settings (issuer, algorithm, lifetimes) are the usual
``JWTSEAL_*`` variables read by :meth:`jwtseal.Settings.load`; these are the
AWS ones, set by the stack in ``infra/``:

- ``JWTSEAL_SECRET_ID``: the secret that holds the key set (required by the
  signer, the generator and ``jwtseal serve`` on AWS);
- ``JWTSEAL_BUCKET``: the bucket ``jwks.json`` is published to (required by
  the generator, optional for ``jwtseal serve``);
- ``JWTSEAL_SECRET_CACHE_TTL``: seconds a signer reuses the secret it read
  (default ``300`` on Lambda, ``5`` for ``jwtseal serve``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..settings import Settings, SettingsError
from ..stores.aws import AwsKeyStore

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["AwsSettings", "kms_client", "s3_client", "secrets_client", "store_from_environ"]


@dataclass(frozen=True, slots=True)
class AwsSettings:
    secret_id: str
    bucket: str | None = None
    secret_cache_ttl: int = 300

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str],
        *,
        need_bucket: bool = False,
        default_ttl: int = 300,
        need_secret: bool = True,
    ) -> AwsSettings:
        """Raises SettingsError naming the variable that is missing or not valid."""
        secret_id = environ.get("JWTSEAL_SECRET_ID", "")
        bucket = environ.get("JWTSEAL_BUCKET") or None
        if need_secret and not secret_id:
            raise SettingsError("JWTSEAL_SECRET_ID must name the secret that holds the key set.")
        if need_bucket and bucket is None:
            raise SettingsError("JWTSEAL_BUCKET must name the bucket the JWKS is published to.")
        ttl = environ.get("JWTSEAL_SECRET_CACHE_TTL", str(default_ttl))
        if not ttl.isdigit():
            raise SettingsError(f"JWTSEAL_SECRET_CACHE_TTL={ttl!r} is not valid: a whole number of seconds.")
        return cls(secret_id, bucket, int(ttl))


def _boto3() -> Any:
    try:
        import boto3  # noqa: PLC0415 - only the functions that talk to AWS need it
        from botocore.config import Config  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError("The AWS handlers need boto3: pip install 'jwtseal[aws]'") from exc
    config = Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3})
    return boto3, config


def secrets_client() -> SecretsManagerClient:
    """A Secrets Manager client for the function's region and role (boto3's usual lookup)."""
    boto3, config = _boto3()
    client: SecretsManagerClient = boto3.client("secretsmanager", config=config)
    return client


def s3_client() -> S3Client:
    boto3, config = _boto3()
    client: S3Client = boto3.client("s3", config=config)
    return client


def kms_client() -> KMSClient:
    """A KMS client for signing: short timeouts and one retry, so a throttled KMS answers 503 soon."""
    boto3, _ = _boto3()
    from botocore.config import Config  # noqa: PLC0415 - imported by _boto3 already

    config = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 2})
    client: KMSClient = boto3.client("kms", config=config)
    return client


def store_from_environ(environ: Mapping[str, str]) -> AwsKeyStore:
    """The AWS store for ``jwtseal serve``: every replica on one secret (and bucket, if set).

    The cache TTL defaults to 5 s, so a replica signs with a key rotated
    elsewhere within seconds (one ``GetSecretValue`` per 5 s per replica).

    Raises:
        SettingsError: a variable is missing or not valid.
    """
    settings = Settings.load(environ)
    aws = AwsSettings.load(environ, default_ttl=5)
    s3 = s3_client() if aws.bucket else None
    return AwsKeyStore(
        secrets_client(),
        aws.secret_id,
        s3=s3,
        bucket=aws.bucket,
        max_age=settings.jwks_max_age,
        cache_ttl=aws.secret_cache_ttl,
    )
