"""Settings: flag, else environment, else default; bad values name their variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwtseal.settings import Settings, SettingsError


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
