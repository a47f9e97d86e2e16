"""Configuration refuses what would be unsafe or broken outside development, naming the IME_
variable to set and never quoting a value; TLS to Temporal is built from the configured files."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.service import TLSConfig

from connections import temporal_tls
from deploy.certs import CertFiles, issue
from settings import Settings

REAL = "x" * 40
CODEC_KEYS = "k1:" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="


def production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "production",
        "id_secret": REAL,
        "api_key_secret": REAL,
        "action_signing_keys": REAL,
        "codec_keys": CODEC_KEYS,
        "temporal_tls": True,
        "claimant_contact": "Acme IME claims desk, +1-212-555-0199, claims@acme-ime.example",
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return issue(tmp_path_factory.mktemp("certs"))


def refusal(**overrides: object) -> str:
    with pytest.raises(ValidationError) as refused:
        production(**overrides)
    return str(refused.value)


def test_development_runs_on_the_dev_defaults():
    settings = Settings(env="development")
    assert settings.development
    assert temporal_tls(settings) is False


def test_production_refuses_each_dev_secret_by_name():
    with pytest.raises(ValidationError) as refused:
        Settings(env="production")
    message = str(refused.value)
    for name in ("IME_ID_SECRET", "IME_API_KEY_SECRET", "IME_ACTION_SIGNING_KEYS",
                 "IME_CODEC_KEYS", "IME_TEMPORAL_TLS", "IME_CLAIMANT_CONTACT"):  # fmt: skip
        assert name in message


def test_production_starts_with_real_secrets_and_tls():
    assert not production().development


def test_short_secrets_are_refused_in_production():
    message = refusal(api_key_secret="short")
    assert "IME_API_KEY_SECRET" in message
    assert "IME_ID_SECRET" not in message


def test_a_refusal_never_quotes_a_value_given():
    given = {
        "id_secret": secrets.token_urlsafe(30),
        "api_key_secret": secrets.token_urlsafe(10),  # too short: refused
        "codec_keys": "k1:" + secrets.token_urlsafe(32),
        "temporal_api_key": secrets.token_urlsafe(30),
        "smtp_password": secrets.token_urlsafe(20),
    }
    message = refusal(**given)
    assert "IME_API_KEY_SECRET" in message
    for value in given.values():
        # Not even a fragment: pydantic would otherwise quote the input, cut to its two ends.
        fragments = {value[i : i + 6] for i in range(len(value) - 5)}
        assert not any(fragment in message for fragment in fragments), value


def test_production_refuses_plaintext_to_temporal_naming_both_ways_to_tls():
    message = refusal(temporal_tls=False)
    assert "IME_TEMPORAL_TLS=true" in message
    assert "IME_TEMPORAL_API_KEY" in message


def test_an_api_key_alone_means_tls_with_the_system_roots():
    settings = production(temporal_tls=False, temporal_api_key="cloud-key")
    assert temporal_tls(settings) == TLSConfig()


def test_a_missing_tls_file_is_refused_by_name(certs, tmp_path):
    absent = tmp_path / "absent.pem"
    cases = {
        "IME_TEMPORAL_TLS_CA_FILE": {"temporal_tls_ca_file": absent},
        "IME_TEMPORAL_TLS_CERT_FILE": {
            "temporal_tls_cert_file": absent,
            "temporal_tls_key_file": certs.client_key,
        },
        "IME_TEMPORAL_TLS_KEY_FILE": {
            "temporal_tls_cert_file": certs.client_cert,
            "temporal_tls_key_file": absent,
        },
    }
    for name, files in cases.items():
        message = refusal(**files)
        assert f"{name} ({absent} is not a readable file)" in message


def test_a_client_certificate_needs_its_key():
    message = refusal(temporal_tls_cert_file=Path(__file__))
    assert "IME_TEMPORAL_TLS_CERT_FILE and IME_TEMPORAL_TLS_KEY_FILE go together" in message


def test_tls_files_with_tls_off_are_refused_in_any_env(certs):
    with pytest.raises(ValidationError, match="IME_TEMPORAL_TLS=true") as refused:
        Settings(temporal_tls_ca_file=certs.ca, temporal_tls_server_name="temporal")
    assert "IME_TEMPORAL_TLS_CA_FILE, IME_TEMPORAL_TLS_SERVER_NAME set" in str(refused.value)


def test_a_whole_production_config_from_the_environment_validates(certs, monkeypatch):
    # The variable names the refusals quote are the ones read.
    for name, value in {
        "IME_ENV": "production",
        "IME_ID_SECRET": REAL,
        "IME_API_KEY_SECRET": REAL,
        "IME_ACTION_SIGNING_KEYS": REAL,
        "IME_CODEC_KEYS": CODEC_KEYS,
        "IME_TEMPORAL_ADDRESS": "temporal:7233",
        "IME_TEMPORAL_NAMESPACE": "claims",
        "IME_TEMPORAL_TLS": "true",
        "IME_TEMPORAL_TLS_CA_FILE": str(certs.ca),
        "IME_TEMPORAL_TLS_CERT_FILE": str(certs.client_cert),
        "IME_TEMPORAL_TLS_KEY_FILE": str(certs.client_key),
        "IME_TEMPORAL_TLS_SERVER_NAME": "temporal",
        "IME_CLAIMANT_CONTACT": "Acme IME claims desk, +1-212-555-0199, claims@acme-ime.example",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.temporal_namespace == "claims"
    assert temporal_tls(settings) == TLSConfig(
        server_root_ca_cert=certs.ca.read_bytes(),
        client_cert=certs.client_cert.read_bytes(),
        client_private_key=certs.client_key.read_bytes(),
        domain="temporal",
    )


def test_production_refuses_the_placeholder_claimant_contact():
    from settings import DEV_CLAIMANT_CONTACT

    assert "IME_CLAIMANT_CONTACT" in refusal(claimant_contact=DEV_CLAIMANT_CONTACT)
    assert "IME_CLAIMANT_CONTACT" in refusal(claimant_contact="  ")
