"""The ``jwtseal`` command: serve, sign, verify, inspect and manage keys.

Every command takes ``--data-dir`` after its own name and creates the key set
on an empty data dir. Failures print ``code: detail`` on stderr and exit 1.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from ._json import loads_object
from ._jws import MAX_TOKEN_LENGTH
from ._token import inspect
from .apikeys import ApiKeys
from .errors import InvalidRequest, JwtsealError
from .jwks import PublicKeySet
from .logs import configure_logging
from .service import Service, jwks_cache
from .settings import Settings, SettingsError, environment, settings_help, worker_environment
from .stores import FileKeyStore, KeyStore, StoreUnreachable, open_store
from .verifier import ANY_AUDIENCE, Verifier

P = ParamSpec("P")
R = TypeVar("R")

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the embedded file store keeps keys [env: JWTSEAL_DATA_DIR; default: ./.jwtseal].",
)


def _fail_cleanly(command: Callable[P, R]) -> Callable[P, R]:
    """Render jwtseal errors as ``code: detail`` and exit 1, never a traceback."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except JwtsealError as exc:
            click.echo(f"{exc.code}: {exc.detail}", err=True)
            sys.exit(1)
        except SettingsError as exc:
            click.echo(f"invalid_setting: {exc}", err=True)
            sys.exit(1)

    return wrapper


def _open(settings: Settings, store: KeyStore | None = None) -> Service:
    return Service.open(settings, store or open_store(settings.data_dir, environment()))


def _service(**flags: Any) -> Service:
    return _open(Settings.load(environment(), **flags))


def _echo_json(value: Any) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape: print it escaped
        text = json.dumps(value, indent=2)
    click.echo(text)


@click.group()
@click.version_option(package_name="jwtseal")
def main() -> None:
    """Issue JSON Web Tokens anyone can verify, and verify anyone's."""


SERVER_MODULES = ("httptools",)
"""What ``serve`` needs from the ``jwtseal[server]`` extra (uvloop, where it installs, is only faster)."""


def _require_server_extra() -> None:
    """Exit 1 naming the extra when it is missing, instead of an import traceback."""
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        click.echo(
            f"missing_extra: jwtseal serve needs {', '.join(missing)}: pip install 'jwtseal[server]'",
            err=True,
        )
        sys.exit(1)


def _available_cores() -> int:
    return len(os.sched_getaffinity(0))


@main.command(epilog="\b\nSettings (flag, else environment, else default):\n" + settings_help())
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 8000].")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes sharing the key store [default: the number of available cores].",
)
@data_dir_option
@_fail_cleanly
def serve(host: str | None, port: int | None, workers: int | None, data_dir: Path | None) -> None:
    """Start the HTTP service (needs the jwtseal[server] extra)."""
    _require_server_extra()
    from .http import create_app  # noqa: PLC0415 - only serve needs the server
    from .http.server import HttpServer, listen  # noqa: PLC0415
    from .http.workers import run_workers  # noqa: PLC0415

    configure_logging()
    settings = Settings.load(environment(), host=host, port=port, data_dir=data_dir)
    store = open_store(settings.data_dir, environment())
    _open(settings, store)  # a corrupt store stops here, before any worker starts
    if settings.api_keys:
        api_keys = ApiKeys.from_keys(settings.api_keys)
    else:
        api_keys, new_key = _stored_api_keys(store)
        if new_key is not None:
            click.echo(f"jwtseal: API key for POST /encode (shown once, only its hash is kept): {new_key}")
    try:
        sock = listen(settings.host, settings.port)
    except OSError as exc:
        click.echo(f"cannot_listen: {settings.host}:{settings.port}: {os.strerror(exc.errno or 0)}", err=True)
        sys.exit(1)
    holds_clear_keys = isinstance(store, FileKeyStore) and settings.signer == "local"
    if holds_clear_keys and settings.key_encryption_key is None:  # not the AWS store, nor KMS keys
        logging.getLogger("jwtseal.keys").warning(
            "private keys are kept unencrypted in 0600 files; set JWTSEAL_KEY_ENCRYPTION_KEY to wrap them",
            extra={"fields": {"store": repr(store)}},
        )
    workers = workers or _available_cores()
    click.echo(f"jwtseal: serving {settings.issuer} with {workers} worker(s); JWKS at {settings.jwks_uri}")
    with sock:
        if workers == 1:
            HttpServer(create_app(settings, store=store, api_keys=api_keys), sock).run()
            return
        with _metrics_dir(settings) as metrics_dir:
            if not run_workers(workers, sock, worker_environment(settings, metrics_dir)):
                sys.exit(1)  # workers kept dying at start; the log says why


@contextmanager
def _metrics_dir(settings: Settings) -> Iterator[Path]:
    """``JWTSEAL_METRICS_DIR`` (made when missing), or a temporary directory removed when ``serve`` stops."""
    if settings.metrics_dir is not None:
        settings.metrics_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        yield settings.metrics_dir
        return
    with tempfile.TemporaryDirectory(prefix="jwtseal-metrics-") as metrics_dir:
        yield Path(metrics_dir)


STORE_RETRY_SECONDS = 2.0


def _stored_api_keys(store: KeyStore) -> tuple[ApiKeys, str | None]:
    """The API key hashes of the store; a networked store that is away is waited for.

    (Set ``JWTSEAL_API_KEYS`` and a replica starts listening at once, its
    ``/readyz`` answering 503 until the store is back.)
    """
    while True:
        try:
            return ApiKeys.from_store(store)
        except StoreUnreachable as exc:
            click.echo(f"jwtseal: waiting for the key store: {exc.detail}", err=True)
            time.sleep(STORE_RETRY_SECONDS)


@main.command()
@click.option("--claims", default=None, help="The claims as a JSON object [default: read stdin].")
@data_dir_option
@_fail_cleanly
def sign(claims: str | None, data_dir: Path | None) -> None:
    """Print one token signed with the current key."""
    text = claims if claims is not None else sys.stdin.read()
    try:
        document = loads_object(text.encode("utf-8", "surrogatepass"))
    except ValueError as exc:
        raise InvalidRequest("The claims must be a JSON object.") from exc
    click.echo(_service(data_dir=data_dir).issuer.sign(document))


@main.command()
@click.argument("token")
@click.option("--jwks", "jwks", default=None, help="A JWKS URI or file [default: the data dir's keys].")
@click.option("--audience", default=None, help="Require this audience.")
@click.option("--issuer", default=None, help="Require this issuer.")
@data_dir_option
@_fail_cleanly
def verify(
    token: str, jwks: str | None, audience: str | None, issuer: str | None, data_dir: Path | None
) -> None:
    """Print the verified claims as JSON; TOKEN "-" reads the token from stdin."""
    token = _token_text(token)
    if jwks is None:
        claims = _service(data_dir=data_dir).verifier.verify(token, audience=audience, issuer=issuer).claims
    elif jwks.startswith(("http://", "https://")):
        settings = Settings.load(environment(), data_dir=data_dir)
        keys = jwks_cache(settings).at(jwks)
        verifier = Verifier(keys, leeway=settings.leeway, audience=ANY_AUDIENCE)
        claims = verifier.verify(token, audience=audience, issuer=issuer).claims
    else:
        verifier = Verifier(_read_jwks_file(Path(jwks)), audience=ANY_AUDIENCE)
        claims = verifier.verify(token, audience=audience, issuer=issuer).claims
    _echo_json(claims)


_FROM_STDIN = "-"


def _token_text(token: str) -> str:
    """The TOKEN argument, or stdin for "-": a token in argv shows in ``ps`` and shell history."""
    if token != _FROM_STDIN:
        return token
    return sys.stdin.read(MAX_TOKEN_LENGTH + 1).strip()  # one more: a longer token stays too long


def _read_jwks_file(path: Path) -> PublicKeySet:
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"{path} is not a readable JSON file.") from exc
    return PublicKeySet.from_document(document)


@main.command(name="inspect")
@click.argument("token")
@data_dir_option
@_fail_cleanly
def inspect_command(token: str, data_dir: Path | None) -> None:
    """Print header and claims WITHOUT verifying anything; TOKEN "-" reads stdin.

    ``--data-dir`` is accepted, as by every command, and has no use here.
    """
    unverified = inspect(_token_text(token))
    click.echo("UNVERIFIED: the signature and claims of this token have NOT been checked.", err=True)
    _echo_json({"verified": False, "header": unverified.header, "claims": unverified.claims})


@main.group()
def keys() -> None:
    """List, rotate and publish the signing keys."""


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@data_dir_option
@_fail_cleanly
def list_keys(as_json: bool, data_dir: Path | None) -> None:
    """Show each key's kid, algorithm, state and times."""
    rows = [r.describe() for r in _service(data_dir=data_dir).keyring.view().keyset.keys]
    if as_json:
        _echo_json(rows)
        return
    columns = ("kid", "alg", "state", "created", "activates", "retires", "removes")
    lines = [[name.upper() for name in columns]]
    lines += [[str(row[name] or "-") for name in columns] for row in rows]
    widths = [max(len(line[index]) for line in lines) for index in range(len(columns))]
    for line in lines:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def _warn_if_next_key_is_young(service: Service) -> None:
    upcoming = service.keyring.view().keyset.next
    published_for = service.keyring.now() - upcoming.created_at
    if published_for < service.settings.jwks_max_age:
        click.echo(
            f"warning: the next key was published {published_for} s ago, less than the JWKS "
            f"max-age of {service.settings.jwks_max_age} s; verifiers with a cached JWKS may "
            "refuse new tokens until they refetch.",
            err=True,
        )


@keys.command()
@data_dir_option
@_fail_cleanly
def rotate(data_dir: Path | None) -> None:
    """Promote the next key now; retire the current one; make a new next key."""
    service = _service(data_dir=data_dir)
    _warn_if_next_key_is_young(service)
    keyset = service.keyring.rotate()
    click.echo(f"current key: {keyset.current.kid}\nnext key: {keyset.next.kid}")


@keys.command(context_settings={"ignore_unknown_options": True})
@click.argument("kid")
@data_dir_option
@_fail_cleanly
def revoke(kid: str, data_dir: Path | None) -> None:
    """Emergency: KID leaves the JWKS now and tokens it signed stop verifying."""
    service = _service(data_dir=data_dir)
    if kid == service.keyring.view().keyset.current.kid:
        _warn_if_next_key_is_young(service)
    keyset = service.keyring.revoke(kid)
    click.echo(f"revoked: {kid}\ncurrent key: {keyset.current.kid}\nnext key: {keyset.next.kid}")


@keys.command(name="jwks")
@data_dir_option
@_fail_cleanly
def print_jwks(data_dir: Path | None) -> None:
    """Print the public JWKS."""
    _echo_json(_service(data_dir=data_dir).keyring.view().keyset.jwks())


@keys.command()
@data_dir_option
@_fail_cleanly
def rewrap(data_dir: Path | None) -> None:
    """Wrap every private key again under the first key-encryption key."""
    service = _service(data_dir=data_dir)
    keyset = service.keyring.rewrap()
    wrapping = service.keyring.wrapping
    assert wrapping is not None  # rewrap refuses to run without one
    signing = sum(1 for record in keyset.keys if record.signing is not None)
    click.echo(f"rewrapped {signing} private key(s) under key-encryption key {wrapping.primary_id}")
