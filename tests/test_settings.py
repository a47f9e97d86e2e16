"""Configuration refuses the development secrets outside development, naming what to set."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from settings import Settings

REAL = "x" * 40


def test_development_runs_on_the_dev_defaults():
    assert Settings(env="development").development


def test_production_refuses_each_dev_secret_by_name():
    with pytest.raises(ValidationError) as refused:
        Settings(env="production")
    message = str(refused.value)
    for name in ("IME_ID_SECRET", "IME_API_KEY_SECRET", "IME_CODEC_KEYS"):
        assert name in message
    assert REAL not in message


def test_production_starts_with_real_secrets():
    settings = Settings(
        env="production",
        id_secret=REAL,
        api_key_secret=REAL,
        codec_keys="k1:" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",
    )
    assert not settings.development


def test_short_secrets_are_refused_in_production():
    with pytest.raises(ValidationError, match="IME_API_KEY_SECRET"):
        Settings(env="production", id_secret=REAL, api_key_secret="short", codec_keys="k1:AA==")
