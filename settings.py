"""Service configuration, read from IME_* environment variables (and `.env` when present).

Outside development (`IME_ENV=production`) the service refuses to start with a secret left at its
development default or without TLS to Temporal, and says which setting to change.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent

# The claimant's contact in development letters (a 555 number): refused in production.
DEV_CLAIMANT_CONTACT = (
    "IME Claims support, +1-800-555-0100 (weekdays 9:00-17:00), claims-help@ime-claims.example"
)
DEV_ID_SECRET = "dev-only-change-me"
DEV_API_KEY_SECRET = "dev-only-api-key-secret"
DEV_ACTION_SIGNING_KEY = "dev-only-action-signing-key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IME_",
        env_file=".env",
        extra="ignore",
        # A refusal names the setting and never quotes the values given (secrets among them).
        hide_input_in_errors=True,
    )

    # `development` allows the dev defaults below (and http cookies); anything else is production.
    env: Literal["development", "production"] = "development"

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "ime-claims"

    # Temporal connection (TLS, Temporal Cloud)
    # TLS to the Temporal frontend is on with IME_TEMPORAL_TLS=true, or with an API key (Temporal
    # Cloud). The CA file verifies the server (default: the system's roots); a client certificate
    # and its key make it mutual TLS; the server name is the name verified (and sent as SNI) when
    # it differs from the address's host.
    temporal_tls: bool = False
    temporal_tls_ca_file: Path | None = None
    temporal_tls_cert_file: Path | None = None
    temporal_tls_key_file: Path | None = None
    temporal_tls_server_name: str = ""
    temporal_api_key: str = Field(default="", repr=False)

    @property
    def temporal_tls_enabled(self) -> bool:
        return self.temporal_tls or bool(self.temporal_api_key)

    # Empty means: the embedded Postgres that `make run` starts under data_dir.
    database_url: str = ""
    database_pool_min: int = 1
    database_pool_max: int = 10
    # Every Postgres call is bounded: waiting for a pooled connection, and one statement.
    database_acquire_timeout_seconds: float = Field(default=3.0, gt=0)
    database_statement_timeout_seconds: float = Field(default=10.0, gt=0)

    data_dir: Path = PROJECT_ROOT / ".data"

    # host:port for the worker's Prometheus metrics (Temporal SDK metrics); empty disables them.
    worker_metrics_address: str = ""

    # Secret for deriving opaque claim ids (HMAC over insurer + claim number), so ids
    # cannot be reversed by guessing claim numbers.
    id_secret: str = Field(default=DEV_ID_SECRET, repr=False)
    # Secret keying the hashes of API keys in the database (a leaked table reveals no key).
    api_key_secret: str = Field(default=DEV_API_KEY_SECRET, repr=False)
    # Keys of the HMAC that the API (and the CLI) sign every action with and the worker checks
    # before the action reaches a claim (`domain.envelope`): comma-separated, the first signs,
    # all verify (rotation). Only the API, the CLI and the workers hold them.
    action_signing_keys: str = Field(default=DEV_ACTION_SIGNING_KEY, repr=False)
    # How long an API process trusts what it read of a key: a revoked or expired key stops
    # working within this many seconds on every process (at most 5).
    api_key_cache_seconds: float = Field(default=2.0, ge=0, le=5)
    # How long an SRE's codec session (the cookie the Temporal UI sends) lasts.
    codec_session_hours: float = Field(default=8.0, gt=0, le=24)
    # Failed authentications per client address: past this many within the window, a request
    # that does not authenticate is answered 429 with Retry-After (0: no limit). Successful
    # requests are never limited.
    auth_failure_limit: int = Field(default=300, ge=0)
    auth_failure_window_seconds: float = Field(default=60.0, gt=0)

    # People at the console (`people`, `console`): a session ends after this long without a
    # request (HIPAA 164.312(a)(2)(iii) automatic logoff) and in any case this long after sign-in.
    session_idle_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    session_absolute_hours: float = Field(default=12.0, gt=0, le=24 * 7)
    # Failed sign-ins: per account and per client address within the window; past either limit a
    # sign-in is refused (429) without checking the password.
    sign_in_failures_per_account: int = Field(default=5, ge=1)
    sign_in_failures_per_address: int = Field(default=20, ge=1)
    sign_in_failure_window_minutes: float = Field(default=15.0, gt=0)
    # How long a sign-up link (a new person's, or after their authenticator was reset) works.
    sign_up_link_hours: float = Field(default=24.0, gt=0, le=24 * 7)
    # The console's address as people reach it (sign-up links, pages' links to their safety
    # case); empty: http://api_host:api_port.
    console_base_url: str = ""

    def console_url(self) -> str:
        return (self.console_base_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    ui_port: int = 8233
    # The dev stack's codec gateway (between the Temporal UI and the API's codec); 0: ui_port + 2.
    codec_gateway_port: int = 0

    # Largest request body the API reads; bigger ones are refused with 413.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Largest form the console reads (a bulk-start file of referrals).
    max_form_bytes: int = Field(default=16 * 1_048_576, ge=1024)
    # Largest document (one file of `POST /v1/claims/{id}/documents`): 413 above it, whether the
    # size was announced or not. The upload streams (it is never held whole in memory).
    max_document_bytes: int = Field(default=100 * 1_048_576, ge=1)
    # How long a document upload may take from its head to its last byte (408 after), while each
    # piece of it must still arrive within `request_body_timeout_seconds` of the previous one.
    document_upload_timeout_seconds: float = Field(default=900.0, gt=0)
    # Slow clients are cut off: a request's head (line and headers) must arrive within this long
    # of the connection opening or the previous answer (else the connection is closed), and its
    # whole body within this long of the head (else 408). See docs/operations.md.
    request_head_timeout_seconds: float = Field(default=10.0, gt=0)
    request_body_timeout_seconds: float = Field(default=30.0, gt=0)

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

    def signing_keys(self) -> list[str]:
        """The action signing keys, the one that signs first."""
        return [key.strip() for key in self.action_signing_keys.split(",") if key.strip()]

    @property
    def development(self) -> bool:
        return self.env == "development"

    @property
    def gateway_port(self) -> int:
        return self.codec_gateway_port or self.ui_port + 2

    # The dev stack's paging receiver; 0: ui_port + 3.
    pager_port: int = 0

    @property
    def dev_pager_port(self) -> int:
        return self.pager_port or self.ui_port + 3

    # Where the dev stack's worker serves its metrics (loopback) unless worker_metrics_address
    # says; 0: ui_port + 4.
    worker_metrics_port: int = 0

    @property
    def dev_worker_metrics_port(self) -> int:
        return self.worker_metrics_port or self.ui_port + 4

    # Delivery (the dispatcher). Email through an SMTP relay:
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: str = Field(default="", repr=False)
    mail_from: str = "IME Claims <no-reply@ime-claims.example>"
    # Who the claimant calls or writes to with a question or to reschedule, printed in every
    # letter to them: a line a person answers (the sender above is a no-reply address). The
    # default is a development placeholder; set the real one in production.
    claimant_contact: str = DEV_CLAIMANT_CONTACT
    # Pages to the on-call chain: a PagerDuty Events API v2 endpoint, and the routing key of each
    # recipient (clinician, crisis_line, medical_director).
    paging_url: str = ""
    paging_routing_keys: dict[str, str] = {}
    # Networks webhooks may point into although not public (development: loopback).
    webhook_allowed_networks: list[str] = []
    # How many deliveries one dispatcher sends at once, and how long it holds one it claimed.
    dispatcher_concurrency: int = Field(default=16, ge=1, le=256)
    dispatcher_lease_seconds: float = Field(default=30.0, gt=0)
    # Retry backoff: doubling from the first wait up to the longest, with full jitter.
    delivery_backoff_first_seconds: float = Field(default=1.0, gt=0)
    delivery_backoff_max_seconds: float = Field(default=600.0, gt=0)

    # How long the API waits for a workflow to accept or reject an action.
    action_timeout_seconds: float = Field(default=30.0, gt=0)

    # How often each worker looks for claims whose workflow was terminated (or failed, timed out,
    # was cancelled) outside the service, to close them in the projection; 0 turns it off.
    reconcile_interval_seconds: float = Field(default=30.0, ge=0)

    # How often the Temporal Schedule `retention-sweep` runs the retention sweep
    # (`workflows.retention`), in seconds (IME_RETENTION_SWEEP_EVERY). Each worker creates the
    # schedule at start, or updates it to this interval; 0: the worker leaves the schedule alone.
    retention_sweep_every: float = Field(default=3600.0, ge=0)

    # `make run` demo simulator: claims it starts at once, then one more every interval while
    # fewer than demo_max_open of its claims are open. IME_DEMO=false turns it off.
    demo: bool = True
    demo_claims: int = 6
    demo_interval_seconds: float = 6.0
    demo_max_open: int = 10

    # Logs and tracing
    # Every process writes one JSON object per log line; `console` is for reading in a terminal.
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Base URL of an OTLP/HTTP trace collector (e.g. `http://collector:4318`; spans go to
    # `<url>/v1/traces`). Empty: tracing is off and nothing of it runs.
    otel_exporter_otlp_endpoint: str = ""

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Settings:
        if self.development:
            return self
        wrong = [
            name
            for name, value, dev in (
                ("IME_ID_SECRET", self.id_secret, DEV_ID_SECRET),
                ("IME_API_KEY_SECRET", self.api_key_secret, DEV_API_KEY_SECRET),
            )
            if value == dev or len(value) < 32
        ]
        if any(k == DEV_ACTION_SIGNING_KEY or len(k) < 32 for k in self.signing_keys()):
            wrong.append("IME_ACTION_SIGNING_KEYS (each key)")
        if not self.codec_keys:
            wrong.append("IME_CODEC_KEYS (the dev key ring is for development only)")
        problems = []
        if wrong:
            problems.append(
                "outside development these settings need real secrets (32+ characters): "
                + ", ".join(wrong)
            )
        if self.claimant_contact.strip() in ("", DEV_CLAIMANT_CONTACT):
            # A claimant's letters give this line to call: never the placeholder's 555 number.
            problems.append(
                "outside development the claimant's letters need a real contact: set "
                "IME_CLAIMANT_CONTACT (a line and an address a person answers)"
            )
        if not self.temporal_tls_enabled:
            problems.append(
                "outside development Temporal is reached over TLS: set IME_TEMPORAL_TLS=true"
                " (with IME_TEMPORAL_TLS_CERT_FILE and IME_TEMPORAL_TLS_KEY_FILE for mutual TLS)"
                " or IME_TEMPORAL_API_KEY (Temporal Cloud)"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _some_action_signing_key(self) -> Settings:
        if not self.signing_keys():
            raise ValueError("IME_ACTION_SIGNING_KEYS is empty: actions could not be signed")
        return self

    @model_validator(mode="after")
    def _temporal_tls_files(self) -> Settings:
        """TLS files must exist when given, and only with TLS on: a typo in a path, or a file
        given while TLS is off, would otherwise surface as an obscure failure to connect."""
        files = {
            "IME_TEMPORAL_TLS_CA_FILE": self.temporal_tls_ca_file,
            "IME_TEMPORAL_TLS_CERT_FILE": self.temporal_tls_cert_file,
            "IME_TEMPORAL_TLS_KEY_FILE": self.temporal_tls_key_file,
        }
        given = [name for name, path in files.items() if path is not None]
        if self.temporal_tls_server_name:
            given.append("IME_TEMPORAL_TLS_SERVER_NAME")
        if given and not self.temporal_tls_enabled:
            raise ValueError(
                f"{', '.join(given)} set but TLS to Temporal is off: set IME_TEMPORAL_TLS=true"
            )
        missing = [
            f"{name} ({path} is not a readable file)"
            for name, path in files.items()
            if path is not None and not (path.is_file() and os.access(path, os.R_OK))
        ]
        if missing:
            raise ValueError("TLS files not found: " + ", ".join(missing))
        if (self.temporal_tls_cert_file is None) != (self.temporal_tls_key_file is None):
            raise ValueError(
                "IME_TEMPORAL_TLS_CERT_FILE and IME_TEMPORAL_TLS_KEY_FILE go together"
                " (the client certificate and its private key)"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
