"""Stored plans of gated jobs: every intended change in order, counted, and what became of
each, with the applied ones audited in the same transaction."""

from __future__ import annotations

from mailops.store.plans import ChangeStatus, Outcome, PlannedChange


def change(number: int, action: str = "block") -> PlannedChange:
    return PlannedChange(f"contact:acme:c{number}", f"s{number}@junk.xyz", "state", "unset",
                         "blocked" if action == "block" else "whitelisted", action,
                         "junk TLD .xyz")


def test_a_plan_is_stored_in_batches_and_read_back_in_order(any_store):
    # Given a plan bigger than one batch
    plan = [change(n, "block" if n % 3 else "whitelist") for n in range(1, 12_001)]
    # When it is stored and read back
    assert any_store.plans.save("run-1", "contact-cleanup", plan) == 12_000
    stored = any_store.plans.of_run("run-1")
    # Then every change is there, in order, planned
    assert [s.seq for s in stored] == list(range(1, 12_001))
    assert [s.change for s in stored] == plan
    assert {s.status for s in stored} == {ChangeStatus.PLANNED}
    assert any_store.plans.counts("run-1") == {
        ("block", "planned"): 8_000, ("whitelist", "planned"): 4_000}


def test_outcomes_mark_changes_and_audit_only_the_applied_ones(any_store):
    plan = [change(1), change(2), change(3)]
    any_store.plans.save("run-1", "contact-cleanup", plan)
    # When one change is applied and one failed
    any_store.plans.record_outcomes(
        "run-1", "contact-cleanup",
        [Outcome(1, True), Outcome(2, False, "404: contact gone")],
        dict(enumerate(plan, start=1)),
    )
    # Then the plan says so, the third is still planned, and only the first is audited
    statuses = {s.seq: (s.status, s.detail) for s in any_store.plans.of_run("run-1")}
    assert statuses == {1: (ChangeStatus.APPLIED, None),
                        2: (ChangeStatus.FAILED, "404: contact gone"),
                        3: (ChangeStatus.PLANNED, None)}
    assert [s.seq for s in any_store.plans.of_run("run-1", ChangeStatus.PLANNED)] == [3]
    audited = any_store.audit.of_run("run-1")
    assert [(r.change.target, r.change.label) for r in audited] == [
        ("contact:acme:c1", "s1@junk.xyz")]
    assert audited[0].changed_at.tzinfo is not None


def test_a_strangers_long_sender_is_planned_and_audited_whole_on_every_database(any_store):
    # Given a quarantined message whose From header is longer than any column width
    sender = '"' + "Very Important Sender " * 40 + '" <boss@corp.example>'
    change = PlannedChange("quarantine:acme:q1", sender, "status", "quarantined", "released",
                           "accept", "sender is a whitelisted contact")
    # When it is planned and applied
    any_store.plans.save("run-1", "quarantine-accept", [change])
    any_store.plans.record_outcomes("run-1", "quarantine-accept", [Outcome(1, True)], {1: change})
    # Then the plan and the audit log keep it whole
    assert any_store.plans.of_run("run-1")[0].change.label == sender
    assert any_store.audit.of_run("run-1")[0].change.label == sender
