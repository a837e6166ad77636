"""The chaos run's fault plan and the corpus's escaping check, as pure functions."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sandbox.corpus import (
    BAD_ANSWERS,
    FORMULA_PARTNERS,
    HOSTILE_DOMAINS,
    HOSTILE_SENDERS,
    HTML_DOMAIN,
    RTL_DOMAIN,
    RTL_SENDER,
)
from sandbox.corpus_run import escaping_differences
from sandbox.fault_plan import RATES, RESETS, TARGETS, chaos_plan

START = datetime.fromisoformat("2026-10-01T00:00+00:00")


def test_every_api_is_down_once_a_week_on_a_midnight_of_its_own():
    plan = chaos_plan(START, 14, seed=7)
    bursts = [r for r in plan if r["kind"] == "down"]
    api_bursts = Counter(r["target"] for r in bursts if r["target"] in TARGETS.values())
    assert api_bursts == {target: 2 for target in TARGETS.values()}
    first_week = [r["sim_from"] for r in bursts[:3]]
    assert len(set(first_week)) == 3 and all(t.endswith("23:30:00+00:00") for t in first_week)
    assert all(r["sim_hours"] == 1 and r["retry_after"] == 60 for r in bursts)
    assert plan[: len(bursts)] == bursts  # a burst wins over any other fault


def test_every_kind_hits_every_api_at_least_once_and_at_a_few_percent():
    plan = chaos_plan(START, 3, seed=7, rate_scale=0.5)
    once = {(r["target"], r["kind"]) for r in plan if r.get("count") == 1}
    assert once == {(t, rate.kind) for t in TARGETS.values() for rate in RATES}
    background = [r for r in plan if "count" not in r and r["kind"] != "down"]
    per_api = Counter()
    for rule in background:
        per_api[rule["target"]] += rule["rate"]
    resets = per_api.pop(RESETS)
    assert all(0.02 <= share <= 0.05 for share in per_api.values())  # 8.3 % halved
    # And the resets meet 429 and 503 (not processed) on about a third of their calls
    assert 0.15 <= resets <= 0.2
    assert {r["kind"] for r in background if r["target"] == RESETS} == {"rate_limit", "error"}


def test_the_same_seed_plans_the_same_faults():
    assert chaos_plan(START, 7, seed=3) == chaos_plan(START, 7, seed=3)
    assert chaos_plan(START, 7, seed=3) != chaos_plan(START, 7, seed=4)


def test_every_corpus_case_names_what_a_job_must_say_or_must_skip():
    assert len({case.name for case in BAD_ANSWERS}) == len(BAD_ANSWERS)
    for case in BAD_ANSWERS:
        rule = case.rule("key", "a.example")
        assert rule["kind"] == "rewrite" and "{domain}" not in rule["target"]
        assert ("bearer" in rule) == (case.scope == "team")


def test_the_escaping_check_finds_raw_markup_formulas_and_unchecked_senders():
    found = escaping_differences([{"text": "<!channel> hi"}], "<b>bold</b>.example",
                                 "row_type,domain\ndomain,=cmd-calc.example\n")
    messages = " | ".join(f"{d.subject}: {d.message}" for d in found)
    assert "shows '<!channel>' raw" in messages
    assert "was never shown, escaped" in messages
    assert "weekly report HTML: shows '<b>bold</b>.example' unescaped" in messages
    assert "billing CSV: a formula cell '=cmd-calc.example'" in messages


def test_the_resets_are_down_across_the_last_midnight_so_its_catch_up_is_exercised():
    from sandbox.fault_plan import RESETS

    rules = [r for r in chaos_plan(START, 35, 7) if r["target"] == RESETS and r["kind"] == "down"]
    assert [(r["sim_from"], r["sim_hours"]) for r in rules] == [("2026-11-04T23:30:00+00:00", 1.0)]


def shown_outputs() -> tuple[list, str, str]:
    """The three outputs as mailops writes them for the corpus's hostile data."""
    from mailops.report.escape import csv_text, html_text, mrkdwn

    payloads = [{"text": " ".join(mrkdwn(s) for s in (*HOSTILE_SENDERS[:3], RTL_SENDER))
                 + " ping @channel"}]
    html = f"<td>{html_text(HTML_DOMAIN)}</td><td>{html_text(RTL_DOMAIN)}</td>"
    rows = [["domain", name, FORMULA_PARTNERS.get(name, "p-1"), -3, 12.5]
            for name in HOSTILE_DOMAINS]
    return payloads, html, csv_text(["row_type", "domain", "partner_ref", "n", "rate"], rows)


def test_the_escaping_check_passes_what_mailops_writes_for_the_hostile_data():
    # Given the Slack text, HTML and CSV as mailops's escapers write them
    payloads, html, csv_text = shown_outputs()
    # Then the corpus's check finds nothing (mrkdwn's own zero-width space after @ included)
    assert escaping_differences(payloads, html, csv_text) == []


def test_the_escaping_check_finds_a_raw_bidi_control_wherever_it_is_shown():
    # Given the right-to-left override raw in a Slack post, the weekly HTML and the CSV
    payloads, html, csv_text = shown_outputs()
    found = escaping_differences([{"text": f"{payloads[0]['text']} {RTL_SENDER}"}],
                                 html + RTL_DOMAIN, csv_text + f"domain,{RTL_DOMAIN},p,1,2\n")
    messages = " | ".join(f"{d.subject}: {d.message}" for d in found)
    # Then each output is named, with the code point it shows raw
    assert "Slack post 1: shows U+202E raw" in messages
    assert "weekly report HTML: shows U+202E raw" in messages
    assert "billing CSV: shows U+202E raw" in messages
    # And an output that never shows the bidi names at all is said to be unchecked
    unchecked = escaping_differences([{"text": "nothing"}], "<p>nothing</p>", "a,b\n")
    said = " | ".join(d.message for d in unchecked)
    assert "'\\u202egnp.exe@rtl.example' was never shown" in said
    assert "lacks '\\u202egnp.exe.rtl.example', made visible" in said


def test_the_escaping_check_finds_formulas_behind_blanks_controls_and_pipes():
    # Given CSV cells that issue 19 saw written unguarded, and a negative number
    bad = 'row_type,domain,partner_ref,n\ndomain,|cmd-pipe.example," =HYPERLINK(""x"")",-3\n' \
          'domain,-minus.example,"\n=1+1",-3\ndomain,@at.example,"\t=",-3\n'
    found = escaping_differences(shown_outputs()[0], shown_outputs()[1], bad)
    cells = {d.message for d in found if d.subject == "billing CSV"}
    # Then every one of them is a formula cell, and the number is not
    for cell in ("|cmd-pipe.example", ' =HYPERLINK("x")', "-minus.example", "\n=1+1",
                 "@at.example", "\t="):
        assert f"a formula cell {cell!r}" in cells
    assert not any("'-3'" in message for message in cells)
