"""Settings: flag, else environment, else default; bad values name their variable."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from jwtseal.cli import main
from jwtseal.settings import SETTINGS, Settings, SettingsError, worker_environment

SRC = Path(__file__).parent.parent / "src" / "jwtseal"


def test_defaults_match_the_contract() -> None:
    settings = Settings.load({})
    assert settings.data_dir == Path(".jwtseal")
    assert settings.issuer == "http://127.0.0.1:8000"
    assert settings.algorithm == "RS256"
    assert settings.token_ttl == settings.max_token_ttl == 86_400
    assert settings.leeway == 60
    assert settings.rotation_period == 2_592_000
    assert settings.api_keys == ()
    assert settings.trusted_jwks_uris == ()


def test_environment_overrides_defaults_and_flags_override_environment() -> None:
    environ = {
        "JWTSEAL_DATA_DIR": "/env/dir",
        "JWTSEAL_ISSUER": "https://issuer.example",
        "JWTSEAL_ALGORITHM": "ES256",
        "JWTSEAL_TOKEN_TTL": "600",
        "JWTSEAL_MAX_TOKEN_TTL": "3600",
        "JWTSEAL_API_KEYS": " one, two ,,",
        "JWTSEAL_TRUSTED_JWKS_URIS": "http://127.0.0.1:9000/keys/",
        "JWTSEAL_LEEWAY": "0",
        "JWTSEAL_ROTATION_PERIOD": "7200",
    }
    settings = Settings.load(environ, data_dir=Path("/flag/dir"))
    assert settings.data_dir == Path("/flag/dir")
    assert settings.issuer == "https://issuer.example"
    assert settings.jwks_uri == "https://issuer.example/.well-known/jwks.json"
    assert settings.algorithm == "ES256"
    assert (settings.token_ttl, settings.max_token_ttl, settings.leeway) == (600, 3600, 0)
    assert settings.api_keys == ("one", "two")
    assert settings.trusted_jwks_uris == ("http://127.0.0.1:9000/keys/",)
    assert settings.rotation_period == 7200


@pytest.mark.parametrize(
    ("host", "port", "issuer"),
    [
        ("0.0.0.0", 8000, "http://localhost:8000"),
        ("::", 9000, "http://localhost:9000"),
        ("::1", 8001, "http://[::1]:8001"),
        ("example.test", 80, "http://example.test:80"),
    ],
)
def test_default_issuer_follows_host_and_port(host: str, port: int, issuer: str) -> None:
    assert Settings.load({}, host=host, port=port).issuer == issuer


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JWTSEAL_ALGORITHM", "HS256"),
        ("JWTSEAL_ALGORITHM", "none"),
        ("JWTSEAL_TOKEN_TTL", "0"),
        ("JWTSEAL_TOKEN_TTL", "soon"),
        ("JWTSEAL_LEEWAY", "-1"),
        ("JWTSEAL_ROTATION_PERIOD", "-5"),
        ("JWTSEAL_TRUSTED_JWKS_URIS", "http://user@127.0.0.1/"),
        ("JWTSEAL_TRUSTED_JWKS_URIS", "ftp://127.0.0.1/"),
        ("JWTSEAL_PORT", "65536"),
        ("JWTSEAL_PORT", "http"),
        ("JWTSEAL_SECRET_CACHE_TTL", "-1"),
        ("JWTSEAL_SECRET_CACHE_TTL", "\u0665"),
    ],
)
def test_invalid_values_name_their_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.load({variable: value})


def test_token_ttl_may_not_exceed_the_maximum() -> None:
    with pytest.raises(SettingsError, match="JWTSEAL_TOKEN_TTL"):
        Settings.load({"JWTSEAL_TOKEN_TTL": "100", "JWTSEAL_MAX_TOKEN_TTL": "50"})


def test_repr_hides_api_keys() -> None:
    shown = repr(Settings.load({"JWTSEAL_API_KEYS": "super-secret-key"}))
    assert "super-secret-key" not in shown
    assert "**********" in shown
    assert "api_keys=()" in repr(Settings.load({}))


def test_jwks_max_age_may_not_exceed_the_rotation_period() -> None:
    with pytest.raises(SettingsError, match="JWTSEAL_JWKS_MAX_AGE"):
        Settings.load({"JWTSEAL_ROTATION_PERIOD": "100", "JWTSEAL_JWKS_MAX_AGE": "101"})


def test_host_port_and_the_aws_store_come_from_the_environment_too() -> None:
    environ = {
        "JWTSEAL_HOST": "::1",
        "JWTSEAL_PORT": "9100",
        "JWTSEAL_METRICS_DIR": "/run/jwtseal-metrics",
        "JWTSEAL_SECRET_ID": "jwtseal/keys",
        "JWTSEAL_BUCKET": "jwks-bucket",
        "JWTSEAL_SECRET_CACHE_TTL": "7",
    }
    settings = Settings.load(environ)
    assert (settings.host, settings.port, settings.issuer) == ("::1", 9100, "http://[::1]:9100")
    assert settings.metrics_dir == Path("/run/jwtseal-metrics")
    assert (settings.secret_id, settings.bucket, settings.secret_cache_ttl) == (
        "jwtseal/keys",
        "jwks-bucket",
        7,
    )
    assert Settings.load(environ, port=9200).port == 9200


def test_workers_get_the_parent_environment_with_what_the_parent_resolved(tmp_path: Path) -> None:
    settings = Settings.load({}, port=9300, data_dir=Path("relative/data"))
    environ = worker_environment(settings, tmp_path / "metrics")
    loaded = Settings.load(environ)
    assert loaded.data_dir == Path("relative/data").resolve()
    assert loaded.issuer == "http://127.0.0.1:9300"
    assert loaded.metrics_dir == tmp_path / "metrics"


def test_every_settings_field_has_one_row_in_the_table_and_in_serve_help() -> None:
    assert {field.name for field in dataclasses.fields(Settings)} == {setting.name for setting in SETTINGS}
    assert len(SETTINGS) == len(dataclasses.fields(Settings))
    text = " ".join(CliRunner().invoke(main, ["serve", "--help"]).output.split())
    for setting in SETTINGS:
        assert (
            f"{setting.variable}: {' '.join(setting.meaning.split())} [default: {setting.shown_default}]"
            in text
        )


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = re.compile(r"\bos\.environ\b|\bgetenv\b|\bputenv\b|\bos\.environb\b|from os import")
    found = [str(path.relative_to(SRC)) for path in _sources() if readers.search(path.read_text())]
    assert found == ["settings.py"]


# A Secrets Manager version stage label that jwtseal writes, not an environment variable.
NOT_VARIABLES = {"JWTSEAL_PENDING"}


def test_every_jwtseal_variable_named_in_the_source_is_in_the_settings_table() -> None:
    variables = {setting.variable for setting in SETTINGS}
    named = {
        name for path in _sources() for name in re.findall(r"\bJWTSEAL_[A-Z][A-Z0-9_]*", path.read_text())
    }
    assert named - NOT_VARIABLES <= variables
    assert "JWTSEAL_SECRET_ID" in named  # the scan does see the AWS parts
