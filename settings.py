"""Service configuration, read from IME_* environment variables (and `.env` when present)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IME_", env_file=".env", extra="ignore")

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "ime-claims"

    # Empty means: the embedded Postgres that `make run` starts under data_dir.
    database_url: str = ""
    database_pool_min: int = 1
    database_pool_max: int = 10

    data_dir: Path = PROJECT_ROOT / ".data"

    # host:port for the worker's Prometheus metrics (Temporal SDK metrics); empty disables them.
    worker_metrics_address: str = ""

    # Secret for deriving opaque claim ids (HMAC over insurer + claim number), so ids
    # cannot be reversed by guessing claim numbers.
    id_secret: str = Field(default="dev-only-change-me", repr=False)

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    ui_port: int = 8233

    # Payload encryption key ring, `kid:<base64 32-byte key>,...`; new payloads use the active key
    # (default: the last). Empty means the dev ring in `<data_dir>/codec-keys.json`.
    codec_keys: str = Field(default="", repr=False)
    codec_active_key: str = ""
    # Origins allowed to call the codec endpoints from a browser (the Temporal UI); empty means
    # the local UI on ui_port.
    codec_cors_origins: list[str] = []

    def cors_origins(self) -> list[str]:
        local = [f"http://localhost:{self.ui_port}", f"http://127.0.0.1:{self.ui_port}"]
        return self.codec_cors_origins or local

    # How long the API waits for a workflow to accept or reject an action.
    action_timeout_seconds: float = 30.0

    # `make run` demo simulator: claims it starts at once, then one more every interval while
    # fewer than demo_max_open of its claims are open. IME_DEMO=false turns it off.
    demo: bool = True
    demo_claims: int = 6
    demo_interval_seconds: float = 6.0
    demo_max_open: int = 10


@lru_cache
def get_settings() -> Settings:
    return Settings()
