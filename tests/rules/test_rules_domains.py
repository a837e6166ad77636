"""Pure decisions of the domain jobs: subdomain or domain (by the Public Suffix List), block
names, pending too long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailops.domains import planned_calls
from mailops.public_suffix import registrable_domain
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
        ("acme.com.sg", None),
        ("news.acme.com.sg", "acme.com.sg"),
        ("acme.github.io", None),
        ("new.example", None),
        ("Mail.Example.COM.", "example.com"),
    ],
)
def test_a_name_longer_than_its_registrable_domain_is_a_subdomain_of_the_rest(name, parent):
    # Given a name, when the Public Suffix List gives its registrable domain,
    # then it is a subdomain (of itself without its first label) exactly when it is longer
    assert parent_of(name, registrable_domain) == parent
    assert is_subdomain(name, registrable_domain) is (parent is not None)


def test_acme_com_sg_is_registrable_not_a_subdomain_of_com_sg():
    # Given com.sg, a public suffix the old hand-written list did not know,
    # when acme.com.sg is onboarded, then it is verified as a domain of its own
    assert not is_subdomain("acme.com.sg", registrable_domain)
    assert planned_calls("acme.com.sg") == ["POST /domains/acme.com.sg/verify"]


@pytest.mark.parametrize("suffix", ["co.uk", "com.sg", "github.io", "Co.UK."])
def test_a_bare_public_suffix_is_refused_in_words(suffix):
    # Given a public suffix, which nobody registers, when asked for its parent,
    # then a ValueError says what it is and what to give instead
    with pytest.raises(ValueError, match=r"is a public suffix.*such as example\.") as refused:
        parent_of(suffix, registrable_domain)
    assert repr(suffix) in str(refused.value)


def test_the_rule_asks_the_lookup_it_is_given_about_the_normalised_name():
    # Given a stand-in for the Public Suffix List that knows one registrable domain,
    # when the rule runs, then it asks about the normalised name and follows the answer
    asked = []

    def lookup(name):
        asked.append(name)
        return "b.c"

    assert parent_of("A.B.C.", lookup) == "b.c"
    assert parent_of("b.c", lookup) is None
    assert asked == ["a.b.c", "b.c"]


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
