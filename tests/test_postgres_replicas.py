"""Three `jwtseal serve` replicas with separate data dirs on one real PostgreSQL.

Each replica polls the key set's revision every second (its key maintenance
tick), so a replica's JWKS follows a rotation within about a second; the
tests wait for agreement with a generous deadline instead of timing it.
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest

from jwtseal import KeyRing, RotationPolicy
from jwtseal.keyset import KeySet
from jwtseal.stores.postgres import PostgresKeyStore
from jwtseal.wrapping import KeyEncryptionKeys
from tests.postgres_fixtures import PostgresServer
from tests.replicas import Replica, jwtseal_cli, replica_environ, replicas, stored_keyset, wait_for

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")
MAX_AGE = 2


def _private_numbers(keyset: KeySet) -> list[str]:
    """Every private number of every key that still has one, in base64url, decimal and hex."""
    found = []
    for record in keyset.keys:
        if record.signing is None:
            continue
        jwk = record.signing.to_private_jwk()
        for member in PRIVATE_MEMBERS:
            if member in jwk:
                raw = base64.urlsafe_b64decode(jwk[member] + "=" * (-len(jwk[member]) % 4))
                number = int.from_bytes(raw, "big")
                found += [jwk[member], str(number), f"{number:x}"]
    assert found
    return found


def _assert_dump_has_no_private_key(server: PostgresServer, url: str, keyset: KeySet) -> None:
    dump = server.dump(url)
    assert "jwtseal_documents" in dump
    for kid in (record.kid for record in keyset.keys):
        assert kid in dump  # the dump holds the key ring, public halves readable
    for number in _private_numbers(keyset):
        assert number not in dump
    assert "PRIVATE KEY" not in dump


def _all_agree(running: list[Replica], url: str, kek: str) -> bool:
    expected = stored_keyset(url, kek).jwks()
    return all(replica.jwks() == expected for replica in running)


def test_twenty_concurrent_rotations_and_scheduled_ones_each_make_one_key_and_replicas_agree(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url, kek = postgres.new_database(), KeyEncryptionKeys.generate()

    def env_for(data_dir: Path) -> dict[str, str]:
        return replica_environ(url, kek, data_dir, JWTSEAL_ROTATION_PERIOD="4", JWTSEAL_JWKS_MAX_AGE="1")

    with replicas(tmp_path, 3, env_for) as running:
        start = stored_keyset(url, kek)
        with ThreadPoolExecutor(20) as pool:
            results = list(
                pool.map(lambda n: jwtseal_cli(env_for(tmp_path / f"cli-{n}"), "keys", "rotate"), range(20))
            )
        assert [result.returncode for result in results] == [0] * 20, [r.stderr for r in results]
        assert not any("another writer" in result.stderr for result in results)
        promoted = [result.stdout.split()[2] for result in results]  # "current key: KID"
        assert len(set(promoted)) == 20  # no two calls rotated from the same key set
        burst = stored_keyset(url, kek)
        assert burst.version >= start.version + 20
        wait_for(lambda: stored_keyset(url, kek).version >= burst.version + 2, "two scheduled rotations")
        wait_for(lambda: _all_agree(running, url, kek), "every replica's JWKS to equal the stored one")
    final = stored_keyset(url, kek)
    kids = [record.kid for record in final.keys]
    assert len(set(kids)) == len(kids) == final.version + 1  # version 1 had two keys; one more per change
    assert set(promoted) <= set(kids)
    scheduled = sorted(
        r.activates_at for r in final.keys if r.activates_at > max(r.created_at for r in burst.keys)
    )
    assert len(scheduled) >= 2
    assert all(later - earlier >= 3 for earlier, later in itertools.pairwise(scheduled))  # one per due time
    _assert_dump_has_no_private_key(postgres, url, final)


def test_tokens_issued_round_robin_during_two_rotations_all_verify_with_pyjwkclient(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url, kek = postgres.new_database(), KeyEncryptionKeys.generate()

    def env_for(data_dir: Path) -> dict[str, str]:
        return replica_environ(url, kek, data_dir, JWTSEAL_JWKS_MAX_AGE=str(MAX_AGE))

    with replicas(tmp_path, 3, env_for) as running:
        # verifiers cache the JWKS for its max-age, as the replicas' Cache-Control asks
        clients = [jwt.PyJWKClient(r.url + "/.well-known/jwks.json", lifespan=MAX_AGE) for r in running]
        issued, failures, kids, done = itertools.count(), [], set(), [0]
        lock = threading.Lock()
        rotate_at = (60, 120)
        rotated = [threading.Event(), threading.Event()]

        def work(worker: int) -> None:
            for n in range(60):
                number = next(issued)
                for index, threshold in enumerate(rotate_at):
                    if number >= threshold:
                        rotated[index].wait(60)
                signer = running[(worker + n) % 3]
                answer = signer.encode({"sub": f"user-{number}"})
                try:
                    assert answer.status_code == 200, answer.text
                    token = answer.json()["token"]
                    key = clients[(worker + n + 1) % 3].get_signing_key_from_jwt(token)
                    claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=["ES256"])
                    assert claims["sub"] == f"user-{number}"
                    with lock:
                        kids.add(answer.json()["kid"])
                except Exception as exc:  # counted, then asserted to be none
                    with lock:
                        failures.append(repr(exc))
                with lock:
                    done[0] += 1

        with ThreadPoolExecutor(3) as pool:
            workers = [pool.submit(work, worker) for worker in range(3)]
            for event, threshold in zip(rotated, rotate_at, strict=True):
                wait_for(lambda: done[0] >= threshold, f"{threshold} tokens")  # noqa: B023
                before = stored_keyset(url, kek)
                wait_for(lambda: _all_agree(running, url, kek), "replicas to publish the next key")
                # API.md: the next key is published at least one max-age before it signs
                wait_for(lambda: time.time() > before.next.created_at + MAX_AGE + 1, "one max-age")  # noqa: B023
                rotate = jwtseal_cli(env_for(tmp_path / "cli"), "keys", "rotate")
                assert rotate.returncode == 0, rotate.stderr
                assert stored_keyset(url, kek).current.kid == before.next.kid
                event.set()
            for future in workers:
                future.result()
    assert failures == []
    assert len(kids) >= 3  # tokens were signed by the first key and both promoted ones


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
def test_a_dump_of_the_database_holds_no_private_key_in_the_clear(
    postgres: PostgresServer, algorithm: str
) -> None:
    url = postgres.new_database()
    wrapping = KeyEncryptionKeys.parse(KeyEncryptionKeys.generate())
    store = PostgresKeyStore(url)
    keyring = KeyRing(store, RotationPolicy(algorithm=algorithm), wrapping=wrapping)
    keyring.view()
    keyring.rotate()
    keyset = keyring.rotate()
    store.close()
    _assert_dump_has_no_private_key(postgres, url, keyset)
