"""Onboarded domains in the store: their records, each status change once, and where the
credential is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailops.store import DomainRecord

AT = datetime(2026, 10, 1, 9, tzinfo=UTC)
RECORDS = [{"type": "TXT", "name": "_emboux.news.example.com", "value": "v=emb1 k=abc"}]


def onboard(store, name: str = "news.example.com") -> DomainRecord:
    record = DomainRecord(name, "example.com", "ses", RECORDS, "pending", False, AT)
    store.domains.save_onboarded(record)
    return record


def test_an_onboarded_domain_reads_back_with_its_records(any_store):
    record = onboard(any_store)
    stored = any_store.domains.onboarded("news.example.com")
    assert stored == [DomainRecord(record.name, record.parent, "ses", RECORDS, "pending", False,
                                   AT, checked_at=AT)]
    assert stored[0].onboarded_at.tzinfo is not None


def test_each_status_change_is_recorded_once_and_verification_is_dated(any_store):
    onboard(any_store)
    later = AT + timedelta(days=1)
    assert not any_store.domains.record_status("news.example.com", "pending", False, later)
    assert any_store.domains.record_status("news.example.com", "verified", True,
                                          later + timedelta(hours=1))
    assert not any_store.domains.record_status("news.example.com", "verified", True,
                                              later + timedelta(days=1))
    assert any_store.domains.status_history("news.example.com") == [
        ("pending", AT), ("verified", later + timedelta(hours=1))]
    [domain] = any_store.domains.onboarded()
    assert (domain.verified, domain.verified_at) == (True, later + timedelta(hours=1))


def test_a_credential_location_is_kept_for_known_and_unknown_domains(any_store):
    onboard(any_store)
    any_store.domains.record_credential("news.example.com", "prefect:emboux-credential-news", AT)
    any_store.domains.record_credential("legacy.example.org", "file:legacy.secret", AT)
    stored = {d.name: d for d in any_store.domains.onboarded()}
    assert stored["news.example.com"].credential_location == "prefect:emboux-credential-news"
    assert (stored["legacy.example.org"].status,
            stored["legacy.example.org"].credential_rotated_at) == ("unknown", AT)
