"""Operations CLI: claims, API keys, people's console accounts, the access log.

python starter.py referral --count 20 > referrals.jsonl       # fresh sample referrals
python starter.py start --file referral.json
python starter.py start --file referrals.jsonl --concurrency 32   # or .csv; --dry-run, --json
python starter.py list --stage SCHEDULING --overdue --limit 20
python starter.py status CLAIM_ID
python starter.py act CLAIM_ID confirm-appointment --data '{}'
python starter.py keys create --role insurer --insurer acme-ins --name "acme integration"
python starter.py users create --role ops --email ana@example.org --name "Ana Ops"
python starter.py access-log --claim CLAIM_ID
python starter.py deliveries backlog
python starter.py deliveries retry --channel email
python starter.py panel list                      # edit ID --capacity 30, deactivate ID
"""

from __future__ import annotations

import typer

from cli import audit, claims, deliveries, keys, panel, samples, users
from cli.common import finish

app = typer.Typer(add_completion=False, no_args_is_help=True, help="IME claims operations CLI")
app.command()(claims.start)
app.command()(claims.status)
app.command()(claims.events)
app.command()(claims.act)
app.command(name="list")(claims.list_claims)
app.add_typer(claims.legal_hold, name="legal-hold")
app.command()(samples.referral)
app.add_typer(keys.app, name="keys")
app.add_typer(users.app, name="users")
app.add_typer(deliveries.app, name="deliveries")
app.add_typer(panel.app, name="panel")
app.command(name="access-log")(audit.access_log_command)

if __name__ == "__main__":
    app()
    finish(0)
