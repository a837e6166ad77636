"""The bad-input corpus: answers the API documentation does not promise, and hostile data.

`BAD_ANSWERS` are named cases, each a `rewrite` fault rule (see faults.py) on one endpoint,
for one team's key or one domain: fields missing, wrong types, nulls, a page far larger than
asked, and a `total_pages` that lies. A client or job meeting one must give a clear error that
names what was wrong, or skip it and count the skip, and go on with every other team and
domain. `HOSTILE_SENDERS` and `HOSTILE_DOMAINS` are real data of the corpus world (unicode and
IDN addresses, Slack mrkdwn, HTML, CSV formulas (behind blanks and controls too), very long
names, NUL, bidi and terminal controls): they must be stored and come out escaped wherever
they are shown, bidi controls as visible markers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TEAM = "team"  # the rule is limited to the first team's key
DOMAIN = "domain"  # the rule targets the first domain's path ({domain} in the target)
ITEM = "item"  # one entry of a shared listing (the domain list) is bad
WHOLE = "whole"  # a shared answer is unusable as a whole: nothing can go on without it


@dataclass(frozen=True)
class BadAnswer:
    """One endpoint answering something unexpected, and what the jobs must say about it.

    `names`: words the one-line error must contain (the field that was wrong), or None when
    the jobs must skip what is unusable and count it. `jobs`: the jobs that read the endpoint
    (daily-health reads every one)."""

    name: str
    target: str
    rewrite: dict[str, Any]
    scope: str
    names: str | None
    jobs: tuple[str, ...] = ("daily-health",)

    def rule(self, team_key: str, domain: str) -> dict[str, Any]:
        """The sandbox fault rule that serves this case."""
        rule = {"target": self.target.format(domain=domain), "kind": "rewrite", **self.rewrite}
        if self.scope == TEAM:
            rule["bearer"] = team_key
        return rule


def _contacts(n: int) -> list[dict[str, Any]]:
    """n well-formed contacts (for a page much larger than the one asked for)."""
    return [{"uuid": f"00000000-0000-4000-8000-{i:012x}", "email": f"bulk{i}@bulk.example",
             "email_count": 1, "state": "unset", "category": None,
             "created_at": "2026-01-01T00:00:00Z", "has_subscriptions": False}
            for i in range(n)]


CONTACT_JOBS = ("daily-health", "contact-cleanup", "quarantine-accept")
QUARANTINE_JOBS = ("daily-health", "quarantine-accept")
DOMAIN_JOBS = ("daily-health", "outbound-guard")

BAD_ANSWERS: tuple[BadAnswer, ...] = (
    BadAnswer("team without usage", "GET /cleanbox/v1/team", {"drop": ["usage"]}, TEAM,
              "'usage'"),
    BadAnswer("weekly usage as a word", "GET /cleanbox/v1/team",
              {"set": {"usage.weekly_used": "lots"}}, TEAM, "'usage.weekly_used'"),
    BadAnswer("alias limit null", "GET /cleanbox/v1/team",
              {"set": {"limits.aliases.limit": None}}, TEAM, "'limits.aliases.limit'"),
    BadAnswer("team answer not an object", "GET /cleanbox/v1/team", {"body": ["team"]}, TEAM,
              "GET /team"),
    BadAnswer("backlog total as a word", "GET /cleanbox/v1/quarantine",
              {"set": {"total": "many"}}, TEAM, "'total'", QUARANTINE_JOBS),
    BadAnswer("quarantine page without data", "GET /cleanbox/v1/quarantine",
              {"drop": ["data"]}, TEAM, "'data'", QUARANTINE_JOBS),
    BadAnswer("message count with a lying total_pages", "GET /cleanbox/v1/messages",
              {"drop": ["total"], "set": {"total_pages": 1_000_000}}, TEAM, "total_pages"),
    BadAnswer("message page with null total_pages", "GET /cleanbox/v1/messages",
              {"drop": ["total"], "set": {"total_pages": None}}, TEAM, "'total_pages'"),
    BadAnswer("contact page far larger than asked", "GET /cleanbox/v1/contacts",
              {"set": {"data": _contacts(1_000)}}, TEAM, "per_page", CONTACT_JOBS),
    BadAnswer("contact listing whose total_pages lies", "GET /cleanbox/v1/contacts",
              {"set": {"total_pages": 1_000_000}}, TEAM, "total_pages", CONTACT_JOBS),
    BadAnswer("contact without an email", "GET /cleanbox/v1/contacts",
              {"drop": ["data.0.email"]}, TEAM, "'0.email'", CONTACT_JOBS),
    BadAnswer("contact with a null state and a count as a word", "GET /cleanbox/v1/contacts",
              {"set": {"data.1.state": None, "data.2.email_count": "many"}}, TEAM, "'1.state'",
              CONTACT_JOBS),
    BadAnswer("quarantined message without a sender", "GET /cleanbox/v1/quarantine",
              {"drop": ["data.0.from"]}, TEAM, None, ("quarantine-accept",)),
    BadAnswer("outbound without bounce_rate", "GET /emboux/domains/{domain}/outbound",
              {"drop": ["bounce_rate"]}, DOMAIN, "'bounce_rate'", DOMAIN_JOBS),
    BadAnswer("sends today as a word", "GET /emboux/domains/{domain}/outbound",
              {"set": {"outbound_sent_today": "twelve"}}, DOMAIN, "'outbound_sent_today'",
              DOMAIN_JOBS),
    BadAnswer("sends this month beyond any integer column",
              "GET /emboux/domains/{domain}/outbound", {"set": {"outbound_sent_month": 2**40}},
              DOMAIN, "'outbound_sent_month'", DOMAIN_JOBS),
    BadAnswer("verification null", "GET /emboux/domains/{domain}/outbound",
              {"set": {"ses_verified": None}}, DOMAIN, "'ses_verified'", DOMAIN_JOBS),
    BadAnswer("domain list item without a name", "GET /emboux/domains",
              {"drop": ["0.name"]}, ITEM, "'name'", DOMAIN_JOBS),
    BadAnswer("domain list with a name that is not a domain", "GET /emboux/domains",
              {"set": {"0.name": "../../outbound/reset-daily"}}, ITEM, "not a domain name",
              DOMAIN_JOBS),
    BadAnswer("domain list not a list", "GET /emboux/domains", {"body": {"data": []}}, WHOLE,
              "GET /domains", DOMAIN_JOBS),
)

LONG_NAME = "very-long-" + "x" * 5_000
# A right-to-left override: shown raw, each reads as another ("elpmaxe.ltr@exe.png").
RTL_SENDER = "\u202egnp.exe@rtl.example"
RTL_DOMAIN = "\u202egnp.exe.rtl.example"
# Partner references a spreadsheet would run (issue 19): a formula behind a space, a newline
# and a tab; the domains they bill start with a formula character of their own.
FORMULA_PARTNERS: dict[str, str] = {
    "-minus.example": ' =HYPERLINK("http://evil.example","pay")',
    "+plus.example": "\n=1+1",
    "@at.example": "\t=",
}
HOSTILE_SENDERS: tuple[str, ...] = (
    "<!channel>@alert.top",
    "<script>alert(1)</script>@evil.click",
    "=HYPERLINK(\"http://evil.example\",\"open\")@formula.xyz",
    RTL_SENDER,  # busy enough to reach the Slack posts' top lines, before the long name
    "*bold* _it_ ~s~ `c`@markdown.example",
    "josé.müller@bücher.example",
    "用户@例子.广告",
    "info@xn--bcher-kva.example",
    f"{LONG_NAME}@long.example",
    # A stranger's unstorable characters: a NUL (PostgreSQL refuses it), a terminal escape.
    "nul\x00byte@evil.example",
    "\x1b[2Jansi@term.example",
)
HOSTILE_SUBJECT = "<!here> <https://evil.example|click> <b>bold</b> =1+1 " + "y" * 4_000
HOSTILE_DOMAINS: tuple[str, ...] = (
    "=cmd-calc.example",
    "<img src=x onerror=alert(1)>.example",
    "<b>bold</b>.example",  # a slash: no request can name it, so it is reported, never read
    "bücher.example",
    f"{'z' * 60}.{'long' * 40}.example",
    RTL_DOMAIN,
    "|cmd-pipe.example",  # a DDE payload's pipe
    *FORMULA_PARTNERS,
)
HTML_DOMAIN = HOSTILE_DOMAINS[1]
# What must never come out unescaped where API text is shown.
RAW_MARKUP: tuple[str, ...] = ("<!channel>", "<!here>", "<script>", "<https://", "<b>")


@dataclass
class CorpusOutcome:
    """What one case did in one job: handled (a clear error, or a counted skip) or not."""

    case: str
    job: str
    handled: bool
    detail: str
