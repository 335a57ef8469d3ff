"""Signing with AWS KMS, proven against moto's KMS on 127.0.0.1.

moto (5.2.5) differs from KMS in ways these tests name where they meet
them: it hashes a ``DIGEST`` message again, signs PSS with the largest salt
instead of the digest's length, and lets a disabled key sign. There the
tests check the request jwtseal sends (recorded by a botocore event hook on
the real client) and that jwtseal refuses an answer that does not verify.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import queue
import secrets
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt
from mypy_boto3_kms import KMSClient

import jwtseal.signers.kms
from jwtseal import (
    FileKeyStore,
    InvalidKey,
    KeyRing,
    KeyStoreError,
    RotationPolicy,
    SigningKey,
    SigningUnavailable,
)
from jwtseal.aws._events import ApiRequest, respond
from jwtseal.cli import main
from jwtseal.service import Service
from jwtseal.settings import Settings, SettingsError
from jwtseal.signers import LocalSigner, open_signer
from jwtseal.signers.kms import MAX_RAW_MESSAGE, KmsSigner
from tests.aws_fixtures import MotoAws, aws_environ, import_copy, moto_server
from tests.conftest import API_KEY, Clock, RunningService, running_service
from tests.test_interop import run_node

ALGORITHMS = ("RS256", "ES256", "ES384")


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_server() as aws:
        yield aws


def new_ring() -> str:
    return f"ring-{secrets.token_hex(4)}"


@pytest.fixture
def ring(aws: MotoAws, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment of a host with AWS credentials (moto's) and its own key ring name."""
    for name, value in aws_environ(aws.endpoint).items():
        monkeypatch.setenv(name, value)
    name = new_ring()
    monkeypatch.setenv("JWTSEAL_KMS_KEY_RING", name)
    return name


class SignRequests:
    """Records the parameters of every KMS ``Sign`` request a client sends."""

    def __init__(self, client: Any) -> None:
        self.params: list[dict[str, Any]] = []
        client.meta.events.register("before-parameter-build.kms.Sign", self._record)

    def _record(self, params: dict[str, Any], **kwargs: Any) -> None:
        self.params.append(dict(params))


def refuse_with(client: Any, operation: str, code: str) -> Any:
    """Make every ``operation`` call of ``client`` fail with the KMS error ``code``; returns the hook."""

    def refuse(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": code}}, operation)

    client.meta.events.register(f"before-call.kms.{operation}", refuse)
    return refuse


def key_id(arn: str) -> str:
    """The key id in a key's ARN: moto's DisableKey and EnableKey take only that (KMS takes both)."""
    return arn.rsplit("/", 1)[1]


def key_state(client: KMSClient, key_id: str) -> str:
    return client.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


def stored_keys(service: Service) -> list[dict[str, Any]]:
    document = service.keyring.store.load()
    assert document is not None
    return [entry["jwk"] for entry in document["keys"]]


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_tokens_signed_through_kms_verify_in_pyjwt_and_jwcrypto_against_the_published_jwks(
    ring: str, aws: MotoAws, tmp_path: Path, alg: str
) -> None:
    with running_service(
        tmp_path, JWTSEAL_SIGNER="aws-kms", JWTSEAL_KMS_KEY_RING=ring, JWTSEAL_ALGORITHM=alg
    ) as service:
        token = service.token({"groceryList": ["milk", "eggs"]})
        jwks = service.client.get("/.well-known/jwks.json").json()
        issuer = service.settings.issuer
        header = jwt.get_unverified_header(token)
        assert header["alg"] == alg
        published = {key["kid"]: key for key in jwks["keys"]}
        assert header["kid"] == service.service.keyring.view().signing_key.kid
        pyjwt_claims = jwt.decode(
            token, jwt.PyJWK(published[header["kid"]]).key, algorithms=[alg], issuer=issuer
        )
        keyset = jwcrypto_jwk.JWKSet.from_json(json.dumps(jwks))
        checked = jwcrypto_jwt.JWT(jwt=token, key=keyset, algs=[alg], check_claims={"iss": issuer})
        assert json.loads(checked.claims) == pyjwt_claims
        assert pyjwt_claims["groceryList"] == ["milk", "eggs"]
        for public in jwks["keys"]:
            assert jwcrypto_jwk.JWK(**public).thumbprint() == public["kid"]  # RFC 7638, as ever
        stored = stored_keys(service.service)
    client = aws.kms()
    for entry in stored:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(entry)
        assert entry["held_by"].startswith("arn:aws:kms:")
        tags = {t["TagKey"]: t["TagValue"] for t in client.list_resource_tags(KeyId=entry["held_by"])["Tags"]}
        assert tags == {"jwtseal:managed": "true", "jwtseal:ring": ring, "jwtseal:kid": entry["kid"]}
        assert entry["kid"] in published


def test_panva_jose_verifies_kms_signed_tokens_from_the_jwks_url(ring: str, tmp_path: Path) -> None:
    """One ``node`` run of tests/interop/verify.mjs (scripts/install-interop installs it) for all three."""
    with ExitStack() as stack:
        cases = []
        for alg in ALGORITHMS:
            environ = {"JWTSEAL_SIGNER": "aws-kms", "JWTSEAL_KMS_KEY_RING": ring, "JWTSEAL_ALGORITHM": alg}
            service = stack.enter_context(running_service(tmp_path / alg, **environ))
            token = service.token({"sub": f"jose-{alg}"})
            cases.append({"id": alg, "token": token, "jwksUri": f"{service.url}/.well-known/jwks.json"})
        verdicts = run_node("verify.mjs", {"cases": cases})["results"]["jose"]
    for alg in ALGORITHMS:
        assert verdicts[alg]["ok"] is True, verdicts[alg]
        assert verdicts[alg]["header"]["alg"] == alg
        assert verdicts[alg]["payload"]["sub"] == f"jose-{alg}"


def test_the_kid_is_the_thumbprint_of_the_public_key_kms_gives(ring: str, aws: MotoAws) -> None:
    client = aws.kms()
    key = KmsSigner(client, ring=ring).generate("ES256")
    assert key.held_by is not None
    der = client.get_public_key(KeyId=key.held_by)["PublicKey"]
    jwk = jwcrypto_jwk.JWK.from_pem(
        b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END PUBLIC KEY-----\n"
    )
    assert jwk.thumbprint() == key.kid
    assert repr(key) == f"SigningKey(kid={key.kid!r}, alg='ES256')"


def test_jwtseal_sign_and_keys_use_kms_when_the_signer_is_aws_kms(ring: str, tmp_path: Path) -> None:
    runner = CliRunner()
    environ = {"JWTSEAL_SIGNER": "aws-kms", "JWTSEAL_ALGORITHM": "ES384"}
    args = ["--data-dir", str(tmp_path)]
    signed = runner.invoke(main, ["sign", "--claims", '{"sub": "cli"}', *args], env=environ)
    assert signed.exit_code == 0, signed.output
    token = signed.output.strip()
    verified = runner.invoke(main, ["verify", token, *args], env=environ)
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["sub"] == "cli"
    listed = runner.invoke(main, ["keys", "list", "--json", *args], env=environ)
    assert {row["alg"] for row in json.loads(listed.output)} == {"ES384"}
    assert "held_by" not in listed.output
    stored = json.loads((tmp_path / "keys.json").read_text())
    assert all(entry["jwk"]["held_by"].startswith("arn:aws:kms:") for entry in stored["keys"])
    assert '"d"' not in (tmp_path / "keys.json").read_text()


def test_signing_inputs_up_to_4096_bytes_go_raw_and_longer_ones_as_their_digest(
    ring: str, aws: MotoAws
) -> None:
    client = aws.kms()
    requests = SignRequests(client)
    signer = KmsSigner(client, ring=ring)
    for alg, hash_name in (("RS256", "sha256"), ("ES384", "sha384")):
        key = signer.generate(alg)
        exact = b"a" * MAX_RAW_MESSAGE
        assert key.public.verify(exact, key.sign(exact))
        longer = b"b" * (MAX_RAW_MESSAGE + 1)
        # moto hashes a DIGEST message again, so its answer cannot verify: jwtseal refuses it.
        with pytest.raises(SigningUnavailable, match="did not verify"):
            key.sign(longer)
        raw, digest = requests.params[-2:]
        assert (raw["MessageType"], raw["Message"], raw["KeyId"]) == ("RAW", exact, key.held_by)
        assert digest["MessageType"] == "DIGEST"
        assert digest["Message"] == hashlib.new(hash_name, longer).digest()
        assert digest["KeyId"] == key.held_by


@pytest.mark.parametrize(
    ("alg", "signing_algorithm", "key_spec"),
    [
        ("RS256", "RSASSA_PKCS1_V1_5_SHA_256", "RSA_2048"),
        ("PS256", "RSASSA_PSS_SHA_256", "RSA_2048"),
        ("ES256", "ECDSA_SHA_256", "ECC_NIST_P256"),
        ("ES384", "ECDSA_SHA_384", "ECC_NIST_P384"),
    ],
)
def test_each_algorithm_asks_kms_for_its_own_key_spec_and_signing_algorithm(
    ring: str, aws: MotoAws, alg: str, signing_algorithm: str, key_spec: str
) -> None:
    client = aws.kms()
    requests = SignRequests(client)
    key = KmsSigner(client, ring=ring).generate(alg)
    assert key.held_by is not None
    metadata = client.describe_key(KeyId=key.held_by)["KeyMetadata"]
    assert (metadata["KeySpec"], metadata["KeyUsage"]) == (key_spec, "SIGN_VERIFY")
    if alg == "PS256":  # moto signs PSS with the largest salt; JWS needs the digest's length
        with pytest.raises(SigningUnavailable):
            key.sign(b"header.payload")
    else:
        assert key.public.verify(b"header.payload", key.sign(b"header.payload"))
    assert requests.params[-1]["SigningAlgorithm"] == signing_algorithm


def test_a_throttled_kms_answers_503_with_retry_after_and_no_token(ring: str, tmp_path: Path) -> None:
    with running_service(
        tmp_path, JWTSEAL_SIGNER="aws-kms", JWTSEAL_KMS_KEY_RING=ring, JWTSEAL_ALGORITHM="ES256"
    ) as service:
        signer = service.service.keyring.signer
        assert isinstance(signer, KmsSigner)
        hook = refuse_with(signer.client, "Sign", "ThrottlingException")
        response = service.encode({"sub": "busy"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "signing_unavailable"
        assert "token" not in problem
        assert "arn:" not in response.text
        signer.client.meta.events.unregister("before-call.kms.Sign", hook)
        assert service.encode({"sub": "calm again"}).status_code == 200
        assert service.client.get("/readyz").json()["status"] == "ready"
        documented = service.client.get("/openapi.json").json()["paths"]["/encode"]["post"]["responses"]
        assert "Retry-After" in documented["503"]["headers"]


def test_kms_out_of_reach_is_signing_unavailable_with_a_short_retry(ring: str, aws: MotoAws) -> None:
    jwk = KmsSigner(aws.kms(), ring=ring).generate("RS256").to_private_jwk()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    cut_off = KmsSigner(aws.kms(closed), ring=ring)
    with pytest.raises(SigningUnavailable, match=r"\(network\)") as caught:
        cut_off.load(jwk)
    assert caught.value.retry_after == 1


def test_a_disabled_key_is_never_loaded(ring: str, aws: MotoAws) -> None:
    client = aws.kms()
    key = KmsSigner(client, ring=ring).generate("ES256")
    assert key.held_by is not None
    client.disable_key(KeyId=key_id(key.held_by))
    fresh = KmsSigner(client, ring=ring)
    requests = SignRequests(client)
    with pytest.raises(SigningUnavailable, match="Disabled") as caught:
        fresh.load(key.to_private_jwk())
    assert caught.value.retry_after == 60
    client.enable_key(KeyId=key_id(key.held_by))
    loaded = fresh.load(key.to_private_jwk())
    assert loaded.public.verify(b"x.y", loaded.sign(b"x.y"))
    assert len(requests.params) == 1


def test_a_key_kms_calls_disabled_never_signs_again(ring: str, aws: MotoAws) -> None:
    client = aws.kms()
    key = KmsSigner(client, ring=ring).generate("RS256")
    requests = SignRequests(client)
    hook = refuse_with(client, "Sign", "DisabledException")
    with pytest.raises(SigningUnavailable, match="DisabledException"):
        key.sign(b"first.try")
    client.meta.events.unregister("before-call.kms.Sign", hook)
    with pytest.raises(SigningUnavailable, match="no longer usable"):
        key.sign(b"second.try")  # moto would sign: jwtseal does not even ask
    assert len(requests.params) == 1


def test_a_service_whose_current_key_is_disabled_does_not_start(
    ring: str, aws: MotoAws, tmp_path: Path
) -> None:
    settings = Settings.load(
        {"JWTSEAL_DATA_DIR": str(tmp_path), "JWTSEAL_SIGNER": "aws-kms", "JWTSEAL_KMS_KEY_RING": ring}
    )
    service = Service.open(settings)
    current = service.keyring.view().signing_key
    assert current.held_by is not None
    aws.kms().disable_key(KeyId=key_id(current.held_by))
    with pytest.raises(SigningUnavailable, match="Disabled"):
        Service.open(settings)


def test_kms_records_and_private_keys_do_not_mix(ring: str, aws: MotoAws, tmp_path: Path) -> None:
    client = aws.kms()
    signer = KmsSigner(client, ring=ring)
    with pytest.raises(InvalidKey, match="not a KMS key"):
        signer.load(SigningKey.generate("ES256").to_private_jwk())
    kms_jwk = signer.generate("ES256").to_private_jwk()
    with pytest.raises(InvalidKey, match="no algorithm"):
        signer.load({key: value for key, value in kms_jwk.items() if key != "alg"})
    other = signer.generate("ES256").to_private_jwk()
    with pytest.raises(InvalidKey, match="not the stored one"):
        signer.load({**kms_jwk, "held_by": other["held_by"]})
    with pytest.raises(InvalidKey, match="not 'EdDSA'"):
        signer.generate("EdDSA")
    with pytest.raises(SigningUnavailable, match="NotFoundException") as caught:
        signer.load({**kms_jwk, "held_by": kms_jwk["held_by"][:-4] + "0000"})
    assert caught.value.retry_after == 60
    kms_dir, local_dir = tmp_path / "kms", tmp_path / "local"
    Service.open(Settings(data_dir=kms_dir, signer="aws-kms"))
    with pytest.raises(KeyStoreError, match="corrupt"):
        Service.open(Settings(data_dir=kms_dir), signer=LocalSigner())
    Service.open(Settings(data_dir=local_dir))
    with pytest.raises(KeyStoreError, match="corrupt"):
        Service.open(Settings(data_dir=local_dir, signer="aws-kms"))


def test_a_public_key_kms_garbles_is_refused(ring: str, aws: MotoAws) -> None:
    client = aws.kms()

    def garble(parsed: dict[str, Any], **kwargs: Any) -> None:
        parsed["PublicKey"] = b"not DER"

    client.meta.events.register("after-call.kms.GetPublicKey", garble)
    with pytest.raises(InvalidKey, match="cannot read"):
        KmsSigner(client, ring=ring).generate("RS256")


def rotation_ring(aws: MotoAws, tmp_path: Path, ring: str, clock: Clock) -> tuple[KeyRing, KMSClient]:
    client = aws.kms()
    policy = RotationPolicy(algorithm="ES256", period=3_600, max_token_ttl=600, leeway=60, jwks_max_age=300)
    signer = KmsSigner(client, ring=ring, deletion_window_days=7)
    return KeyRing(FileKeyStore(tmp_path), policy, clock=clock, signer=signer), client


def test_retired_keys_are_scheduled_for_deletion_only_after_the_retention_time(
    ring: str, aws: MotoAws, tmp_path: Path
) -> None:
    clock = Clock()
    keyring, client = rotation_ring(aws, tmp_path, ring, clock)
    first = keyring.view().signing_key
    neighbour = KmsSigner(client, ring=new_ring()).generate("ES256")  # another ring's key, same account
    bystander = client.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    keyring.rotate()
    assert first.held_by is not None
    assert key_state(client, first.held_by) == "Enabled"
    clock.now += keyring.policy.retention() - 1
    assert keyring.maintain() is None
    assert key_state(client, first.held_by) == "Enabled"
    assert first.kid in {record.kid for record in keyring.view().keyset.keys}
    clock.now += 1
    changed = keyring.maintain()
    assert changed is not None
    assert first.kid not in {record.kid for record in changed.keys}
    metadata = client.describe_key(KeyId=first.held_by)["KeyMetadata"]
    assert metadata["KeyState"] == "PendingDeletion"
    for record in changed.keys:
        assert record.signing is None or key_state(client, record.signing.held_by or "") == "Enabled"
    assert neighbour.held_by is not None
    assert key_state(client, neighbour.held_by) == "Enabled"
    assert key_state(client, bystander) == "Enabled"


def test_a_failed_deletion_is_logged_and_the_rotation_stands(
    ring: str, aws: MotoAws, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    keyring, _ = rotation_ring(aws, tmp_path, ring, clock)
    signer = keyring.signer
    assert isinstance(signer, KmsSigner)
    doomed = keyring.view().keyset.next
    hook = refuse_with(signer.client, "ScheduleKeyDeletion", "ThrottlingException")
    with caplog.at_level(logging.WARNING, logger="jwtseal.signers.kms"):
        keyring.revoke(doomed.kid)
    assert "KMS key deletion not scheduled" in caplog.text
    assert doomed.kid not in {record.kid for record in keyring.view().keyset.keys}
    signer.client.meta.events.unregister("before-call.kms.ScheduleKeyDeletion", hook)
    refuse_with(signer.client, "ScheduleKeyDeletion", "KMSInvalidStateException")  # already pending
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="jwtseal.signers.kms"):
        signer.release({doomed.kid})
    assert "KMS key deletion scheduled" in caplog.text
    assert "not scheduled" not in caplog.text


def test_the_signer_setting_and_the_kms_variables_are_checked() -> None:
    with pytest.raises(SettingsError, match="JWTSEAL_SIGNER"):
        Settings.load({"JWTSEAL_SIGNER": "hsm"})
    assert Settings.load({}).signer == "local"
    assert isinstance(open_signer(Settings.load({})), LocalSigner)
    for days in ("6", "31", "x", "\N{ARABIC-INDIC DIGIT SEVEN}"):
        with pytest.raises(SettingsError, match=r"JWTSEAL_KMS_DELETION_DAYS.*7 to 30 days"):
            Settings.load({"JWTSEAL_SIGNER": "aws-kms", "JWTSEAL_KMS_DELETION_DAYS": days})
    for ring in ("", "r" * 129):
        with pytest.raises(SettingsError, match=r"JWTSEAL_KMS_KEY_RING.*1 to 128 characters"):
            Settings.load({"JWTSEAL_SIGNER": "aws-kms", "JWTSEAL_KMS_KEY_RING": ring})
    with pytest.raises(ValueError, match="7 to 30"):
        KmsSigner(None, deletion_window_days=31)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        KmsSigner(None, ring="")  # type: ignore[arg-type]


def test_the_kms_client_retries_once_with_short_timeouts(ring: str) -> None:
    signer = open_signer(Settings.load({"JWTSEAL_SIGNER": "aws-kms", "JWTSEAL_KMS_DELETION_DAYS": "7"}))
    assert isinstance(signer, KmsSigner)
    try:
        config: Any = signer.client.meta.config
        assert config.retries == {"mode": "standard", "total_max_attempts": 2}
        assert (config.connect_timeout, config.read_timeout) == (2, 3)
        assert signer.deletion_window_days == 7
    finally:
        signer.client.close()


def test_without_boto3_the_kms_signer_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(ImportError, match=r"pip install 'jwtseal\[aws\]'"):
        open_signer(Settings.load({"JWTSEAL_SIGNER": "aws-kms"}))


def test_without_botocore_the_kms_module_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore.exceptions", None)
    with pytest.raises(ImportError, match=r"pip install 'jwtseal\[aws\]'"):
        import_copy(jwtseal.signers.kms.__file__, "jwtseal.signers._kms_copy")


class Load:
    """Encoders posting /encode on their own threads, and one PyJWKClient verifying every token."""

    def __init__(self, service: RunningService, encoders: int = 3) -> None:
        self.service = service
        self.verifier = jwt.PyJWKClient(f"{service.url}/.well-known/jwks.json", lifespan=1)
        self.tokens: queue.Queue[str | None] = queue.Queue()
        self.issued = threading.Semaphore(0)
        self.failures: list[str] = []
        self.verified: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._encode) for _ in range(encoders)]
        self.checker = threading.Thread(target=self._verify)

    def __enter__(self) -> Load:
        for thread in (*self.threads, self.checker):
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        self.tokens.put(None)
        self.checker.join(60)

    def wait_for(self, count: int) -> None:
        for _ in range(count):
            assert self.issued.acquire(timeout=30)

    def _encode(self) -> None:
        headers = {"authorization": f"Bearer {API_KEY}"}
        with httpx.Client(base_url=self.service.url, timeout=10) as client:
            while not self.stop.is_set():
                answer = client.post("/encode", json={"n": 1}, headers=headers)
                if answer.status_code != 200:
                    self.failures.append(f"encode {answer.status_code}")
                    continue
                self.tokens.put(answer.json()["token"])
                self.issued.release()

    def _verify(self) -> None:
        while (token := self.tokens.get()) is not None:
            try:
                key = self.verifier.get_signing_key_from_jwt(token)
                jwt.decode(token, key.key, algorithms=["ES256"], issuer=self.service.settings.issuer)
                self.verified.append(jwt.get_unverified_header(token)["kid"])
            except jwt.PyJWTError as exc:
                self.failures.append(repr(exc))


def test_two_rotations_under_load_fail_no_pyjwkclient_verification(ring: str, tmp_path: Path) -> None:
    environ = {
        "JWTSEAL_SIGNER": "aws-kms",
        "JWTSEAL_KMS_KEY_RING": ring,
        "JWTSEAL_ALGORITHM": "ES256",
        "JWTSEAL_JWKS_MAX_AGE": "1",
    }
    with running_service(tmp_path, **environ) as service, Load(service) as load:
        keyring = service.service.keyring
        for _ in range(2):
            load.wait_for(40)
            # As automatic rotation does: the next key has been published a whole max-age (1 s here).
            while keyring.now() - keyring.view().keyset.next.created_at < 2:
                load.wait_for(1)
            keyring.rotate()
        load.wait_for(40)
    assert load.failures == []
    assert len(load.verified) >= 120
    assert len(set(load.verified)) == 3  # the first key and the two it rotated to each signed


def test_a_lambda_answer_for_an_unavailable_kms_carries_retry_after() -> None:
    def throttled(request: ApiRequest) -> dict[str, Any]:
        raise SigningUnavailable(retry_after=7)

    answer = respond(throttled, {})
    assert answer["statusCode"] == 503
    assert answer["headers"]["Retry-After"] == "7"
    assert json.loads(answer["body"])["code"] == "signing_unavailable"
