"""What one run of outbound-reset-daily or billing-freeze did: its typed result.

Both jobs claim a key in the ledger (a UTC day, a month), make one non-idempotent call and
end in the same few ways, so their results share `KeyedCallResult`'s fields; the flow
builds the result as it goes (frozen: each step makes the next with `dataclasses.replace`)
and returns it; the CLI's summary reads it, `--json` and the outcome artifact are
`to_jsonable` of it, with the key under the job's own name (`day`, `period`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailops.jsonable import renamed
from mailops.spool_import import SpoolImport
from mailops.store import BillingRow


@dataclass(frozen=True)
class DomainCounters:
    """One domain's outbound counters as read around a reset: the daily reset's witnesses
    (`outbound_sent_today`) and the monthly one's snapshot (`month`, a billing row from the
    snapshot): the evidence a lost answer is reconciled from."""

    outbound_sent_today: int
    month: BillingRow

    @property
    def domain(self) -> str:
        return self.month.domain


@dataclass(frozen=True)
class KeyedCallResult:
    """A ledger-guarded call's run: its key (None until known), whether it was forced, its
    status (not_started, skipped, done, already_done, failed, unknown, spooled, ...), whether
    the call may have been sent, whether the outcome was reconciled from the counters, the
    last word on it, and the failure message when it failed."""

    job: str
    key: str | None
    run_id: str
    forced: bool
    status: str = "not_started"
    sent: bool = False
    reconciled: bool = False
    detail: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class DailyResetResult(KeyedCallResult):
    """outbound-reset-daily's run: the UTC day, how it was started (scheduled, manual) and how
    many domains the reset answered it reset."""

    key: str | None = field(metadata=renamed("day"))
    trigger: str | None = None
    reset_count: int | None = None


@dataclass(frozen=True)
class BillingFreezeResult(KeyedCallResult):
    """billing-freeze's run: the month, the calls made, where the billing rows came from
    (reset: its answer; snapshot: the counters read before it), how many domains the
    snapshot held and how many billing rows were stored, and the spool: the earlier runs'
    spooled freezes imported first, or the file this run's rows went to when the store
    failed."""

    key: str | None = field(metadata=renamed("period"))
    calls: int = 0
    source: str | None = None
    domains: int | None = None
    billing_rows: int | None = None
    spool: SpoolImport | str | None = None
