"""``POST /encode`` on Lambda: a bearer API key, then the library's issuer.

The key set and the API key hashes come from one Secrets Manager secret,
read at most once per ``JWTSEAL_SECRET_CACHE_TTL`` seconds by a warm
container (the original article's cost advice: 1,000 tokens cost one
``GetSecretValue``, not 1,000). A rotation made by the key generator is
picked up within that TTL; the new current key had been published in the
JWKS a whole rotation period before, so verifiers already hold it.

The store is read-only here: this function's role may read the secret and
nothing else, and it never creates or rotates keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..apikeys import ApiKeys
from ..errors import Unauthorized
from ..service import Service
from ..settings import Settings
from ..signers import KeySigner, open_signer
from ..stores.aws import AwsKeyStore
from ..stores.base import KeyStore
from ._config import AwsSettings, s3_client, secrets_client
from ._events import ApiRequest, Entry, Event, LambdaResponse, json_response, respond
from .keyring_object import KeyRingObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["EncodeHandler", "handler"]


class EncodeHandler:
    """Signs the claims of an authorized request with the current key."""

    def __init__(
        self,
        settings: Settings,
        store: KeyStore,
        client: SecretsManagerClient | S3Client | None = None,
        signer: KeySigner | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.signer = signer
        self._client = client
        self._service: Service | None = None
        self._fixed_keys = ApiKeys.from_keys(settings.api_keys) if settings.api_keys else None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EncodeHandler:
        """Raises SettingsError: a variable is missing or not valid.

        With ``JWTSEAL_SIGNER=aws-kms`` it signs with KMS and reads the key
        ring from ``keyring.json`` in ``JWTSEAL_BUCKET``: no secret at all.
        """
        settings = Settings.load(environ)
        signer = open_signer(settings)
        if settings.signer == "aws-kms":
            aws = AwsSettings.load(environ, need_bucket=True, need_secret=False)
            assert aws.bucket is not None
            s3 = s3_client()
            return cls(settings, KeyRingObject(s3, aws.bucket, cache_ttl=aws.secret_cache_ttl), s3, signer)
        aws = AwsSettings.load(environ)
        client = secrets_client()
        store = AwsKeyStore(client, aws.secret_id, cache_ttl=aws.secret_cache_ttl, read_only=True)
        return cls(settings, store, client, signer)

    def __call__(self, event: Event, context: object = None) -> LambdaResponse:
        return respond(self._encode, event)

    def close(self) -> None:
        """Close the client this handler made (an injected store's clients are the caller's)."""
        if self._client is not None:
            self._client.close()

    def _encode(self, request: ApiRequest) -> LambdaResponse:
        self._authorize(request.header("authorization"))
        issued = self._open().issuer.issue(request.json())
        claims = issued.claims
        return json_response(
            {
                "token": issued.token,
                "kid": issued.kid,
                "alg": issued.alg,
                "exp": claims["exp"],
                "jti": claims["jti"],
            }
        )

    def _open(self) -> Service:
        """The service, opened on first use; until the key set exists every call retries.

        Raises:
            KeyStoreError: unreadable, corrupt, or no key set yet.
        """
        if self._service is None:
            self._service = Service.open(self.settings, store=self.store, signer=self.signer)
        return self._service

    def _authorize(self, header: str | None) -> None:
        """``JWTSEAL_API_KEYS`` when set, else the hashes kept in the secret.

        Raises:
            Unauthorized: no bearer key, or not one of the allowed keys.
        """
        keys = self._fixed_keys or ApiKeys(self.store.load_api_key_hashes() or ())
        scheme, _, key = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not keys.check(key.strip()):
            raise Unauthorized


handler = Entry(EncodeHandler.from_environ)
