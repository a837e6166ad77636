"""The name of every mailops job, once: its Prefect flow's and deployment's name, the job its
ledger claims, audit rows, alerts, plans and Slack outbox files are filed under, and what
the dashboard and the runs list show. Plain strings, so every database driver binds them."""

from __future__ import annotations

DAILY_HEALTH = "daily-health"
DAILY_HEALTH_FANOUT = "daily-health-fanout"
DAILY_HEALTH_SHARD = "daily-health-shard"  # a deployment of daily-health, one shard a run
OUTBOUND_RESET_DAILY = "outbound-reset-daily"
BILLING_FREEZE = "billing-freeze"
CONTACT_CLEANUP = "contact-cleanup"
CONTACT_UNDO = "contact-undo"
QUARANTINE_ACCEPT = "quarantine-accept"
OUTBOUND_GUARD = "outbound-guard"
WEEKLY_REPORT = "weekly-report"
DOMAIN_ONBOARDING = "domain-onboarding"
VERIFICATION_WATCH = "verification-watch"
CREDENTIAL_ROTATION = "credential-rotation"

# The jobs that change something at Cleanbox or EmBoux (their changes are audited, their
# plans gated or their calls ledgered): the dashboard's activity page filters by them.
CHANGING_JOBS = (CONTACT_CLEANUP, CONTACT_UNDO, QUARANTINE_ACCEPT, OUTBOUND_GUARD,
                 OUTBOUND_RESET_DAILY, BILLING_FREEZE)
