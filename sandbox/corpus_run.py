"""The bad-input corpus run through every client and job (part of the chaos run).

On a sandbox of its own, every case of `sandbox.corpus.BAD_ANSWERS` is served (a
`rewrite` rule on one endpoint, for one team's key or one domain) while the jobs that read
that endpoint run: each must give a clear error naming what was wrong, or skip and count it,
and must go on with every other team and domain; what daily-health stores is reconciled
against the sandbox's truth, so a bad answer can never become a silently wrong number. Then
the corpus world's hostile data (unicode and IDN addresses, mrkdwn, HTML, CSV formulas, very
long names) goes through every job and must come out escaped in Slack, HTML and CSV.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flows.run import FlowOutcome, run_flow
from mailops import jobs
from mailops.jsonable import to_jsonable
from mailops.rules.resets import previous_period
from sandbox import reconcile
from sandbox.cleanbox_state import KIND_LEGIT, KIND_SPAM, QUARANTINED, UNSET, WHITELISTED
from sandbox.corpus import (
    BAD_ANSWERS,
    DOMAIN,
    FORMULA_PARTNERS,
    HOSTILE_DOMAINS,
    HOSTILE_SENDERS,
    HOSTILE_SUBJECT,
    HTML_DOMAIN,
    ITEM,
    RAW_MARKUP,
    RTL_DOMAIN,
    RTL_SENDER,
    TEAM,
    WHOLE,
    BadAnswer,
    CorpusOutcome,
)
from sandbox.demo import point_mailops_at, retries_at_once
from sandbox.evidence import Places, places_to_scan, secrets_in_use, store_tables
from sandbox.reconcile import Difference
from sandbox.server import Sandbox
from sandbox.world import World, build_world

FIRST_DAY = date(2026, 9, 1)  # each case's daily-health row goes under a day of its own


def hostile_world(seed: int) -> World:
    """A small world whose first team hears from the hostile senders (unset and busy, and
    whitelisted with quarantined mail) and whose EmBoux holds the hostile domains."""
    world = build_world(seed, "small")
    team, now = world.teams[0], int(world.clock.now().timestamp())
    for number, sender in enumerate(HOSTILE_SENDERS):  # the first ones the busiest
        team.contacts.add(sender, 9_000 - number, UNSET, -1, now - 90 * 86_400, False,
                          KIND_SPAM)
        friend = f"friend{number}.{sender}"
        team.contacts.add(friend, 30, WHITELISTED, -1, now - 90 * 86_400, False, KIND_LEGIT)
        team.receive(f'"{HOSTILE_SUBJECT[:40]}" <{friend}>', friend.lower(),
                     f"info@{team.domain}", HOSTILE_SUBJECT, QUARANTINED, 5.5, now - 60)
    partner = next(iter(world.customer_tokens))
    for name in HOSTILE_DOMAINS:
        world.emboux.add_domain(name, FORMULA_PARTNERS.get(name, partner), daily_limit=100,
                                monthly_limit=10, enforcement="soft")
        for n in range(20):
            world.emboux.increment(name, f"user{n}@example.com")
    return world


class CorpusRun:
    """The corpus's sandbox, store and folder, and what each case did."""

    def __init__(self, sandbox: Sandbox, folder: Path) -> None:
        self.sandbox = sandbox
        self.folder = folder
        self.outcomes: list[CorpusOutcome] = []
        self.differences: list[Difference] = []
        self.day = FIRST_DAY
        self.team, self.team_key = next(iter(sandbox.team_keys.items()))
        self.domain = sandbox.world.domains[0].name
        self.run_ids: list[str] = []
        self.runs: Counter[str] = Counter()
        self.hidden: dict[str, str] = {}  # day: the domain a rewritten list entry hid

    def flow(self, job: str, **parameters: Any) -> FlowOutcome:
        from flows.contact_cleanup import contact_cleanup
        from flows.daily_health import daily_health
        from flows.outbound_guard import outbound_guard
        from flows.quarantine_accept import quarantine_accept

        flows = {jobs.DAILY_HEALTH: daily_health, jobs.CONTACT_CLEANUP: contact_cleanup,
                 jobs.QUARANTINE_ACCEPT: quarantine_accept, jobs.OUTBOUND_GUARD: outbound_guard}
        outcome = run_flow(flows[job], as_of=self.sandbox.now(), **parameters)
        self.record(job, outcome)
        return outcome

    def record(self, job: str, outcome: FlowOutcome) -> None:
        self.runs[job] += 1
        if outcome.run_id:
            self.run_ids.append(outcome.run_id)

    def case(self, case: BadAnswer) -> None:
        """Serve one bad answer while each job that reads it runs; judge each run. A listing
        entry rewritten out of recognition hides its domain: the day's truth leaves it out."""
        rule = self.sandbox.inject_fault(**case.rule(self.team_key, self.domain))
        try:
            for job in case.jobs:
                self.judge(case, job)
        finally:
            self.sandbox.remove_fault(rule["id"])

    def judge(self, case: BadAnswer, job: str) -> None:
        if job == jobs.DAILY_HEALTH:
            self.day += timedelta(days=1)
            self.sandbox.record_collection(self.day.isoformat())
            if case.scope == ITEM:
                self.hidden[self.day.isoformat()] = self.domain
            outcome = self.flow(job, day=self.day, notify=False)
        else:  # dry runs: the bad answer must be judged, not acted on
            outcome = self.flow(job, notify=False)
        said = " ".join(str(x) for x in (outcome.message, _errors(outcome.result)) if x)
        skipped = _skipped(job, outcome.result)
        named = case.names is not None and case.names in said
        handled = not outcome.unexpected and (named or skipped > 0)
        rest = self.rest_collected(case, job, outcome)
        detail = said[:300] if named else f"{skipped} skipped; {said[:300]}"
        if not handled:
            self.differences.append(Difference(
                "corpus", f"{case.name} in {job}",
                "raised instead of a one-line failure: " + said[:300] if outcome.unexpected
                else f"neither a clear error naming {case.names} nor a counted skip: "
                     f"{said[:300] or 'nothing said'}"))
        self.differences += rest
        self.outcomes.append(CorpusOutcome(case.name, job, handled and not rest, detail))

    def rest_collected(self, case: BadAnswer, job: str, outcome: FlowOutcome) -> list[Difference]:
        """Every other team and domain went on: planned or polled (daily-health's rows are
        reconciled against the sandbox's truth at the end)."""
        found = to_jsonable(outcome.result)  # a job's typed result, read by its JSON keys
        result = found if isinstance(found, dict) else {}
        if case.scope == WHOLE:
            return []  # nothing to go on with: the clear error is all there is
        if job == jobs.CONTACT_CLEANUP:
            expected = set(self.sandbox.team_keys)
            got = set(result.get("teams", [])) - set(result.get("unreadable", {}))
        elif job == jobs.QUARANTINE_ACCEPT:
            expected = set(self.sandbox.team_keys)
            got = {t["team"] for t in result.get("teams", []) if not t.get("error")}
        elif job == jobs.OUTBOUND_GUARD:
            expected = set(self.sandbox.world.emboux.domain_names())
            got = {m["name"] for m in result.get("mailboxes", [])}
        else:
            return []
        spared = {TEAM: {self.team}, DOMAIN: {self.domain}}.get(case.scope, set())
        said = f"{outcome.message} {_errors(outcome.result)}"
        missing = {name for name in expected - got - spared if name not in said}
        allowed = 1 if case.scope == ITEM else 0  # an unreadable list item has no name
        if len(missing) <= allowed:
            return []
        return [Difference("corpus", f"{case.name} in {job}",
                           f"did not go on for {', '.join(sorted(missing)[:5])}")]

    def hostile(self) -> None:
        """The hostile data through every job, then every output checked for escaping."""
        from flows.billing_freeze import billing_freeze
        from flows.weekly_report import weekly_report

        self.sandbox.clear_slack()
        before = len(self.differences)
        self.day += timedelta(days=1)
        self.sandbox.record_collection(self.day.isoformat())
        runs = {
            jobs.DAILY_HEALTH: self.flow(jobs.DAILY_HEALTH, day=self.day),
            jobs.CONTACT_CLEANUP: self.flow(jobs.CONTACT_CLEANUP, apply=True, max_actions=100_000),
            jobs.QUARANTINE_ACCEPT: self.flow(jobs.QUARANTINE_ACCEPT, apply=True),
            jobs.OUTBOUND_GUARD: self.flow(jobs.OUTBOUND_GUARD, apply=True),
        }
        week = self.day.isocalendar()
        runs[jobs.WEEKLY_REPORT] = run_flow(weekly_report, week=f"{week.year}-W{week.week:02d}",
                                         format="html")
        now = self.sandbox.now()
        billed = previous_period(now)  # only a month that has ended is billed
        runs[jobs.BILLING_FREEZE] = run_flow(billing_freeze, period=billed, as_of=now)
        for job in (jobs.WEEKLY_REPORT, jobs.BILLING_FREEZE):
            self.record(job, runs[job])
        for job, outcome in runs.items():
            if outcome.unexpected:
                self.differences.append(Difference("corpus", f"hostile data in {job}",
                                                   f"raised: {outcome.message}"))
        payloads = [p["payload"] for p in self.sandbox.slack_posts()]
        (self.folder / "slack-posts.json").write_text(
            json.dumps(payloads, indent=2, ensure_ascii=False), encoding="utf-8")
        csv_text = self.billing_csv(billed)
        (self.folder / "billing.csv").write_text(csv_text, encoding="utf-8")
        self.differences += escaping_differences(payloads, _report_html(runs[jobs.WEEKLY_REPORT]),
                                                 csv_text)
        found = len(self.differences) - before
        self.outcomes.append(CorpusOutcome("hostile data", "every job", found == 0,
                                           f"{found} differences" if found else "escaped"))

    def billing_csv(self, period: str) -> str:
        from mailops.report.billing import build_export, render_csv
        from mailops.settings import load_settings
        from mailops.store import Store

        with Store(load_settings().database_url) as store:
            return render_csv(build_export(period, store.billing.rows(period)))


def _errors(result: Any) -> str:
    """The per-team or per-domain errors a run's result lists, as text."""
    result = to_jsonable(result)
    if not isinstance(result, dict):
        return ""
    found = [result.get(key) for key in ("errors", "failed", "failures", "error", "unreadable")]
    found += [t.get(key) for t in result.get("teams", []) if isinstance(t, dict)
              for key in ("error", "unusable")]
    return json.dumps([f for f in found if f], default=str)


def _skipped(job: str, result: Any) -> int:
    """What a run counted as unusable and skipped."""
    result = to_jsonable(result)
    if not isinstance(result, dict):
        return 0
    if job == jobs.CONTACT_CLEANUP:
        return int(result.get("skipped_invalid", 0))
    if job == jobs.QUARANTINE_ACCEPT:
        return sum(int(t.get("skipped_invalid", 0)) for t in result.get("teams", []))
    return 0


def _report_html(outcome: FlowOutcome) -> str:
    """The HTML page a weekly-report run wrote, or nothing."""
    from mailops.report.weekly import WeeklyReportResult

    if isinstance(outcome.result, WeeklyReportResult) and outcome.result.file:
        return Path(outcome.result.file).read_text(encoding="utf-8")
    return ""


def _raw_invisible(text: str) -> list[str]:
    """The invisible characters (escape.invisible) `text` shows raw, as U+hhhh; the zero-width
    space mrkdwn itself puts after an @ to defuse a broadcast word is not one of them."""
    from mailops.report.escape import invisible

    return sorted({f"U+{ord(c):04X}" for i, c in enumerate(text)
                   if invisible(c) and not (c == "\u200b" and text[i - 1:i] == "@")})


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def escaping_differences(payloads: list[Any], html: str, csv_text: str) -> list[Difference]:
    """Hostile text never shown raw: no Slack markup, no HTML tag, no CSV formula (OWASP's
    rule, behind blanks and controls too), no bidi control or other invisible character in
    any of the three; and the hostile names did reach each output, escaped (else nothing was
    checked): the busiest senders and the right-to-left one in Slack, the HTML and the
    right-to-left domain in the weekly HTML, the formula and right-to-left names in the CSV."""
    from mailops.report.escape import csv_cell, html_text, mrkdwn, runs_as_formula

    found = []
    texts = [json.dumps(payload, ensure_ascii=False) for payload in payloads]
    for n, text in enumerate(texts, start=1):
        for raw in RAW_MARKUP:
            if raw in text:
                found.append(Difference("corpus", f"Slack post {n}", f"shows {raw!r} raw"))
        found += [Difference("corpus", f"Slack post {n}", f"shows {code} raw")
                  for code in _raw_invisible(text)]
    for sender in (*HOSTILE_SENDERS[:3], RTL_SENDER):
        shown = json.dumps(mrkdwn(sender), ensure_ascii=False)[1:-1]
        if not any(shown in text for text in texts):
            found.append(Difference("corpus", "Slack", f"{sender[:30]!r} was never shown, "
                                    "escaped: its escaping went unchecked"))
    if not html:
        found.append(Difference("corpus", "weekly report", "no HTML report was written"))
    for hostile in (*HOSTILE_SENDERS, *HOSTILE_DOMAINS):
        if "<" in hostile and hostile in html:
            found.append(Difference("corpus", "weekly report HTML",
                                    f"shows {hostile[:40]!r} unescaped"))
    found += [Difference("corpus", "weekly report HTML", f"shows {code} raw")
              for code in _raw_invisible(html)]
    if html and html_text(HTML_DOMAIN) not in html:
        found.append(Difference("corpus", "weekly report HTML", "lacks the hostile domain"))
    if html and html_text(RTL_DOMAIN) not in html:
        found.append(Difference("corpus", "weekly report HTML",
                                f"lacks {RTL_DOMAIN!r}, made visible"))
    cells = [cell for row in csv.reader(io.StringIO(csv_text)) for cell in row]
    found += [Difference("corpus", "billing CSV", f"a formula cell {cell!r}")
              for cell in cells if runs_as_formula(cell) and not _is_number(cell)]
    found += [Difference("corpus", "billing CSV", f"shows {code} raw")
              for code in _raw_invisible(csv_text)]
    guarded = ("=cmd-calc.example", "|cmd-pipe.example", *FORMULA_PARTNERS,
               *FORMULA_PARTNERS.values())
    found += [Difference("corpus", "billing CSV", f"lacks {hostile!r}, escaped")
              for hostile in guarded if csv_cell(hostile) not in cells]
    if csv_cell(RTL_DOMAIN) not in cells:
        found.append(Difference("corpus", "billing CSV", f"lacks {RTL_DOMAIN!r}, made visible"))
    return found


@dataclass
class CorpusResult:
    """What each case did in each job, every difference, and what to scan for keys."""

    outcomes: list[CorpusOutcome]
    differences: list[Difference]
    runs: Counter[str]
    secrets: dict[str, str]
    places: Places


def run_corpus(folder: Path, *, seed: int = 7) -> CorpusResult:
    """Every bad answer through the jobs that read it, then the hostile data through every
    job, then the store reconciled against the sandbox's truth."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    saved = dict(os.environ)
    with Sandbox.start(world=hostile_world(seed)) as sandbox, retries_at_once():
        try:
            point_mailops_at(sandbox, folder)
            os.environ.update({"MAILOPS_HTTP__MAX_ATTEMPTS": "2",
                               "MAILOPS_HTTP__BACKOFF_BASE_SECONDS": "0.01"})
            run = CorpusRun(sandbox, folder)
            for case in BAD_ANSWERS:
                run.case(case)
            run.hostile()
            tables = store_tables()
            run.differences += _stored_differences(sandbox, tables, run.hidden)
            places = places_to_scan(sandbox.slack_posts(), tables, folder, run.run_ids)
            secrets = secrets_in_use(sandbox)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return CorpusResult(run.outcomes, run.differences, run.runs, secrets, places)


def _stored_differences(
    sandbox: Sandbox, tables: dict[str, list[dict[str, Any]]], hidden: dict[str, str]
) -> list[Difference]:
    """What daily-health stored under the bad answers, against the sandbox's truth (less the
    domains a rewritten list entry hid: the API did not show them under their name)."""
    journal = sandbox.journal()
    collections = [
        {**c, "domains": {n: d for n, d in c["domains"].items() if hidden.get(c["day"]) != n}}
        for c in journal["collections"]
    ]
    return [
        *reconcile.metric_differences(
            collections, tables.get("team_daily", []),
            tables.get("team_top_senders", []), tables.get("domain_daily", []),
            tables.get("alerts", [])),
        *reconcile.audit_differences(journal["changes"], tables.get("audit_log", [])),
    ]
