"""The gate: plans are stored, capped, applied resumably with an audit row each, undoable."""

from __future__ import annotations

import pytest

from mailops.errors import ApiError
from mailops.gate import (
    NOTHING,
    Verdict,
    answered,
    apply_plan,
    decide_without_asking,
    dry_run,
    expired,
    refusal_over_cap,
    save_plan,
    undo_plan,
)
from mailops.store import ChangeStatus, PlannedChange

pytestmark = pytest.mark.anyio


def change(n: int) -> PlannedChange:
    return PlannedChange(f"contact:{n}", f"user{n}@x.xyz", "state", "unset", "blocked",
                         "block", "junk TLD .xyz")


def test_a_plan_within_the_cap_may_be_applied():
    assert refusal_over_cap(100, 100) is None


def test_a_plan_over_the_cap_is_refused_with_the_count_and_the_option():
    refusal = refusal_over_cap(250, 100, "--max-actions")
    assert refusal is not None and "250 changes" in refusal and "--max-actions 250" in refusal


async def test_applying_makes_each_change_once_and_audits_it(fresh_store):
    save_plan(fresh_store, "run-1", "contact-cleanup", [change(n) for n in range(250)])
    made: list[str] = []

    async def apply_one(c: PlannedChange) -> None:
        made.append(c.target)

    result = await apply_plan(fresh_store, "run-1", "contact-cleanup", apply_one)
    assert result.applied == 250 and sorted(made) == sorted(f"contact:{n}" for n in range(250))
    audited = fresh_store.audit.of_run("run-1")
    assert len(audited) == 250 and audited[0].change.label == "user0@x.xyz"
    again = await apply_plan(fresh_store, "run-1", "contact-cleanup", apply_one)
    assert (again.applied, again.already_done, len(made)) == (0, 250, 250)


async def test_a_failed_change_is_recorded_and_tried_again_on_the_next_pass(fresh_store):
    save_plan(fresh_store, "run-1", "contact-cleanup", [change(1), change(2)])
    failing = {"contact:2"}

    async def apply_one(c: PlannedChange) -> None:
        if c.target in failing:
            raise ApiError("Cleanbox PUT /contacts/2: answered 503", api="Cleanbox",
                           method="PUT", endpoint="/contacts/2")

    first = await apply_plan(fresh_store, "run-1", "contact-cleanup", apply_one)
    assert first.applied == 1 and first.failed == [("user2@x.xyz",
                                                   "Cleanbox PUT /contacts/2: answered 503")]
    assert [s.status for s in fresh_store.plans.of_run("run-1")] == [
        ChangeStatus.APPLIED, ChangeStatus.FAILED]
    failing.clear()
    second = await apply_plan(fresh_store, "run-1", "contact-cleanup", apply_one)
    assert (second.applied, second.already_done) == (1, 1)
    assert len(fresh_store.audit.of_run("run-1")) == 2


async def test_undo_reverts_applied_changes_newest_first(fresh_store):
    save_plan(fresh_store, "run-1", "contact-cleanup", [change(1), change(2)])

    async def apply_one(c: PlannedChange) -> None:
        return None

    await apply_plan(fresh_store, "run-1", "contact-cleanup", apply_one)
    reverts = undo_plan(fresh_store, "run-1")
    assert [(r.target, r.old_value, r.new_value) for r in reverts] == [
        ("contact:2", "blocked", "unset"), ("contact:1", "blocked", "unset")]
    assert reverts[0].reason.startswith("undo of run run-1")


def test_plan_counts_group_by_action_and_status(fresh_store):
    save_plan(fresh_store, "run-1", "contact-cleanup", [change(1), change(2)])
    assert fresh_store.plans.counts("run-1") == {("block", "planned"): 2}


# --- the verdict a gated run ends under ---------------------------------------------------


def test_given_no_changes_when_gated_then_there_is_nothing_to_apply_and_nobody_is_asked():
    assert decide_without_asking(0, 10, approval_required=True) == NOTHING


def test_given_a_plan_over_the_cap_when_gated_then_it_is_refused_before_anyone_is_asked():
    decision = decide_without_asking(11, 10, approval_required=True)
    assert decision is not None and decision.verdict is Verdict.OVER_CAP
    assert decision.refusal == refusal_over_cap(11, 10) and not decision.applies


def test_given_a_deployment_when_gated_then_a_person_must_answer():
    assert decide_without_asking(3, 10, approval_required=True) is None


def test_given_a_terminal_apply_when_gated_then_it_applies_and_says_whose_approval_it_was():
    decision = decide_without_asking(3, 10, approval_required=False)
    assert decision is not None and decision.verdict is Verdict.APPLIED_AT_TERMINAL
    assert decision.applies and decision.refusal is None and "--apply" in decision.reason


def test_given_an_answer_in_the_ui_when_decided_then_its_verdict_names_who_and_why():
    approved = answered(True, 3, "looked fine", "ops-anna")
    assert (approved.verdict, approved.applies) == (Verdict.APPLIED, True)
    assert approved.reason == "3 change(s) approved in the Prefect UI by ops-anna: looked fine"
    rejected = answered(False, 3, "too many", "")
    assert rejected.verdict is Verdict.REJECTED and not rejected.applies
    assert rejected.refusal == (
        "the plan was rejected in the Prefect UI (too many): nothing was changed")


def test_every_verdict_but_over_cap_is_named_apart_from_prefects_own_states():
    # The runs list must tell them apart, and none may pass for Prefect's "Completed"
    names = [v.value for v in Verdict]
    assert len(set(names)) == len(names) and "Completed" not in names and "Failed" not in names
    assert dry_run(4).verdict is Verdict.DRY_RUN and expired(60).verdict is Verdict.EXPIRED
