"""Pure decisions of the domain jobs: subdomain or domain, block names, pending too long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailops.rules.alerts import Severity
from mailops.rules.domains import (
    PendingDomain,
    is_subdomain,
    normalise,
    parent_of,
    pending_alerts,
    secret_block_name,
    status_changed,
)

NOW = datetime(2026, 10, 10, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "parent"),
    [
        ("example.com", None),
        ("mail.example.com", "example.com"),
        ("a.b.example.com", "b.example.com"),
        ("shop.co.uk", None),
        ("mail.shop.co.uk", "shop.co.uk"),
        ("Mail.Example.COM.", "example.com"),
    ],
)
def test_three_or_more_labels_make_a_subdomain_of_the_rest(name, parent):
    assert parent_of(name) == parent
    assert is_subdomain(name) is (parent is not None)


@pytest.mark.parametrize("name", ["", "localhost", "a..b", "-x.com", "a/b.com", "x y.com"])
def test_what_is_not_a_domain_is_refused(name):
    with pytest.raises(ValueError, match="is not a domain name"):
        normalise(name)


def test_block_names_are_lowercase_letters_digits_and_dashes():
    assert secret_block_name("Mail.Example-1.COM") == "emboux-credential-mail-example-1-com"


def _pending(days_ago: float) -> PendingDomain:
    return PendingDomain("new.example", "Pending", NOW - timedelta(days=days_ago),
                         ("TXT new.example v=spf1 include:mailgun.org ~all",))


def test_a_domain_pending_for_the_threshold_raises_one_warning_with_its_records():
    assert pending_alerts([_pending(2.99)], NOW, 3) == []
    [alert] = pending_alerts([_pending(3)], NOW, 3)
    assert alert.key == "verification_pending" and alert.severity is Severity.WARNING
    assert alert.subject == "new.example" and alert.threshold == 3
    assert "v=spf1 include:mailgun.org" in alert.message and "3.0 days" in alert.message


def test_only_a_different_status_is_a_change():
    assert status_changed(None, "Pending")
    assert not status_changed("Pending", "Pending")
    assert status_changed("Pending", "Success")
