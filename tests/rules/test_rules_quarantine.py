"""quarantine-accept's pure rules and the gate's batch mode: no HTTP, no Prefect."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailops.errors import ServerError
from mailops.gate import apply_plan, save_plan
from mailops.models.cleanbox import QuarantinedMessage
from mailops.quarantine import parse_target, quarantine_target
from mailops.rules.addresses import bare_address, normalise_address
from mailops.rules.contacts import real_domain
from mailops.rules.quarantine import Keep, decide, over_threshold, plan_accepts, whitelist_of
from mailops.settings import QuarantineRules
from mailops.store import ChangeStatus, PlannedChange

WHEN = datetime(2026, 10, 1, tzinfo=UTC)


def message(uuid: str, sender: str, score: float | None = 1.0) -> QuarantinedMessage:
    return QuarantinedMessage.model_validate({
        "uuid": uuid, "from": sender, "to": "info@acme.test", "subject": "hi",
        "received_at": WHEN, "spam_score": score,
    })


# --- threshold ----------------------------------------------------------------------------


@pytest.mark.parametrize(("backlog", "acts"), [(0, False), (9, False), (10, False), (11, True)])
def test_the_backlog_must_exceed_the_threshold(backlog, acts):
    assert over_threshold(backlog, 10) is acts


def test_a_threshold_of_zero_acts_on_any_backlog():
    assert not over_threshold(0, 0) and over_threshold(1, 0)


def test_the_defaults():
    rules = QuarantineRules()
    assert (rules.threshold, rules.max_spam_score, rules.max_actions_per_run) == (10, None, 500)


# --- address normalisation ----------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "boss@corp.com", "Boss@Corp.COM", "  boss@corp.com ", "BOSS@CORP.COM",
    '"Boss" <boss@corp.com>', "Boss <Boss@Corp.Com>", "<boss@corp.com>",
    '  "The Boss, CEO" < boss@corp.com >  ', "boss@corp.com.",
])
def test_every_spelling_of_one_address_normalises_the_same(text):
    assert normalise_address(text) == "boss@corp.com"


@pytest.mark.parametrize("text", ["", "   ", "boss", "@corp.com", "boss@", '"Boss" <>',
                                  "boss@corp..com"])
def test_text_without_an_address_has_no_key(text):
    assert normalise_address(text) is None


def test_the_domain_is_the_one_contact_cleanup_uses():
    assert normalise_address('"x" <"@channel"@Urgent.BUZZ>') == '"@channel"@urgent.buzz'
    assert normalise_address("Kontakt@Bücher.DE").endswith("@" + real_domain("a@bücher.de"))


def test_different_local_parts_stay_different():
    assert normalise_address("boss@corp.com") != normalise_address("boss2@corp.com")


@given(st.from_regex(r"[a-z0-9._]{1,12}@[a-z0-9]{1,10}\.(com|org|de)", fullmatch=True),
       st.text(alphabet="ABCDEFGH abcdefgh", max_size=12), st.booleans())
def test_display_names_case_and_spaces_never_change_the_key(address, name, upper):
    spelled = address.upper() if upper else address
    assert normalise_address(f' "{name}" <{spelled}>  ') == normalise_address(address)
    assert bare_address(f"{name} <{address}>") == address


# --- decisions ----------------------------------------------------------------------------


WHITELIST = whitelist_of(["Boss@Corp.com", " friend@example.org ", "not an address"])


def test_the_whitelist_holds_normalised_addresses_only():
    assert frozenset({"boss@corp.com", "friend@example.org"}) == WHITELIST


def test_a_whitelisted_sender_is_accepted_however_it_is_spelled():
    assert decide(message("m1", '"Boss" <BOSS@corp.COM>'), WHITELIST, None).accept
    kept = decide(message("m2", "stranger@corp.com"), WHITELIST, None)
    assert kept.keep is Keep.NOT_WHITELISTED and not kept.accept


def test_an_unreadable_sender_is_kept_as_not_whitelisted():
    assert decide(message("m1", "nobody"), WHITELIST, None).keep is Keep.NOT_WHITELISTED


@pytest.mark.parametrize(("score", "guard", "accepted"), [
    (9.9, None, True),     # the guard is off by default
    (4.9, 5.0, True),
    (5.0, 5.0, False),     # at the guard: kept
    (7.5, 5.0, False),
    (None, 5.0, True),     # no score: the guard has nothing to compare
])
def test_the_spam_score_guard_keeps_high_scores_even_from_whitelisted_senders(
    score, guard, accepted
):
    verdict = decide(message("m1", "boss@corp.com", score), WHITELIST, guard)
    assert verdict.accept is accepted
    if not accepted:
        assert verdict.keep is Keep.SPAM_SCORE and "at or above" in verdict.reason


def test_the_plan_accepts_in_listing_order_counts_kept_and_skips_duplicates():
    messages = [message("m1", "boss@corp.com"), message("m2", "spam@junk.xyz"),
                message("m3", "Friend@Example.org", 8.0), message("m1", "boss@corp.com"),
                message("m4", "friend@example.org", 2.0)]
    plan = plan_accepts(messages, WHITELIST, 8.0)
    assert [m.uuid for m in plan.accept] == ["m1", "m4"]
    assert plan.kept_counts() == {"not_whitelisted": 1, "spam_score": 1}
    assert plan.duplicates == 1 and "whitelisted" in plan.reasons["m1"]


def test_targets_round_trip_with_colons_in_team_names():
    assert parse_target(quarantine_target("Team: A", "u-1")) == ("Team: A", "u-1")
    with pytest.raises(ValueError):
        parse_target("contact:team:u-1")


# --- the gate's batch mode ------------------------------------------------------------------


def accept_change(n: int) -> PlannedChange:
    return PlannedChange(f"quarantine:t:{n}", f"s{n}@x.com", "status", "quarantined",
                         "released", "accept", "whitelisted")


@pytest.mark.anyio
@pytest.mark.parametrize(("planned", "sizes"), [(100, [100]), (101, [100, 1]),
                                                 (250, [100, 100, 50])])
async def test_batches_hold_at_most_100_changes(fresh_store, planned, sizes):
    save_plan(fresh_store, "run-1", "quarantine-accept", [accept_change(n) for n in range(planned)])
    calls: list[list[str]] = []

    async def apply_many(changes):
        calls.append([c.target for c in changes])
        return [None] * len(changes)

    result = await apply_plan(fresh_store, "run-1", "quarantine-accept", apply_many=apply_many,
                              batch_size=100)
    assert sorted(map(len, calls), reverse=True) == sizes
    assert result.applied == planned and not result.failed
    audited = [a.change.target for a in fresh_store.audit.of_run("run-1")]
    assert sorted(audited) == sorted(f"quarantine:t:{n}" for n in range(planned))


@pytest.mark.anyio
async def test_a_failed_batch_fails_its_changes_and_only_they_are_sent_again(fresh_store):
    save_plan(fresh_store, "run-1", "quarantine-accept", [accept_change(n) for n in range(250)])
    sent: list[str] = []
    fail_once = {"quarantine:t:100"}

    async def apply_many(changes):
        targets = [c.target for c in changes]
        if fail_once & set(targets):
            fail_once.clear()
            raise ServerError("Cleanbox POST /quarantine/accept: answered 503",
                              api="Cleanbox", method="POST", endpoint="/quarantine/accept")
        sent.extend(targets)
        return [None if c.target != "quarantine:t:249" else "refused" for c in changes]

    first = await apply_plan(fresh_store, "run-1", "quarantine-accept", apply_many=apply_many)
    assert first.applied == 149 and len(first.failed) == 101
    statuses = {s.change.target: s.status for s in fresh_store.plans.of_run("run-1")}
    assert statuses["quarantine:t:100"] is ChangeStatus.FAILED
    assert statuses["quarantine:t:249"] is ChangeStatus.FAILED
    second = await apply_plan(fresh_store, "run-1", "quarantine-accept", apply_many=apply_many)
    assert (second.applied, second.already_done) == (100, 149)
    assert len(sent) == len(set(sent)) + 1  # only the refused one was sent twice
    audited = [a.change.target for a in fresh_store.audit.of_run("run-1")]
    assert len(audited) == len(set(audited)) == 249


@pytest.mark.anyio
async def test_the_gate_takes_exactly_one_way_to_apply(fresh_store):
    with pytest.raises(ValueError):
        await apply_plan(fresh_store, "run-1", "quarantine-accept")
