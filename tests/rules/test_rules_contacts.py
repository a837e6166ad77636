"""The contact rules (docs/cleanbox-api.md#contact-rules): each at and around its threshold,
their precedence, and what the guide's sample code gets wrong (case, trailing dots, IDN, quoted
local parts, age)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailops.models.cleanbox import Category, Contact
from mailops.rules.contacts import Action, Rule, classify, real_domain, top_level_domain
from mailops.settings import ContactRules

NOW = datetime(2026, 10, 1, tzinfo=UTC)
RULES = ContactRules()


def contact(
    email: str = "someone@example.com",
    count: int = 1,
    category: str | None = None,
    age_days: float = 30,
    subscriptions: bool = False,
    state: str = "unset",
) -> Contact:
    return Contact(
        uuid="c-1", email=email, email_count=count, state=state,
        category=Category(uuid="k", name=category) if category else None,
        created_at=NOW - timedelta(days=age_days), has_subscriptions=subscriptions,
    )


def decide(c: Contact, rules: ContactRules = RULES, scores=None):
    return classify(c, rules, NOW, scores)


# --- the real domain ------------------------------------------------------------------------


@pytest.mark.parametrize("email, domain", [
    ("a@B.XYZ", "b.xyz"),
    ("alerts@status.example.com.", "status.example.com"),
    ('"@channel"@urgent.buzz', "urgent.buzz"),
    ("info@Bücher.example", "xn--bcher-kva.example"),
    ("info@xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("x@bücher\u3002xyz", "xn--bcher-kva.xyz"),
])
def test_the_real_domain_is_after_the_last_at_in_ascii(email, domain):
    assert real_domain(email) == domain


@pytest.mark.parametrize("email", ["", "   ", "no-at-sign", "@example.com", "user@", "a@b..c",
                                   "user@."])
def test_what_is_not_an_address_has_no_domain(email):
    assert real_domain(email) is None


@pytest.mark.parametrize("email", ["x@spam.XYZ", "x@spam.xyz.", "x@spam.Top..", "x@spam.click",
                                   '"a@b.com"@promo.icu', "x@bücher.loan"])
def test_junk_tlds_are_blocked_whatever_their_case_dots_or_script(email):
    decision = decide(contact(email))
    assert (decision.action, decision.rule) == (Action.BLOCK, Rule.JUNK_TLD)
    assert decision.reason.startswith("junk TLD .")


def test_a_junk_word_elsewhere_in_the_address_is_not_a_junk_tld():
    # The guide's sample split on the first "@": a quoted local part fooled it.
    assert decide(contact('"x@y.xyz"@bank.com')).action is Action.KEEP
    assert decide(contact("x@xyz.example.com")).action is Action.KEEP
    assert top_level_domain("mail.xyz.com") == ".com"


def test_configured_tlds_are_compared_case_insensitively():
    rules = ContactRules(junk_tlds=["SHOP", ".Bar."])
    assert decide(contact("x@a.shop"), rules).action is Action.BLOCK
    assert decide(contact("x@a.BAR"), rules).action is Action.BLOCK
    assert decide(contact("x@a.xyz"), rules).action is Action.KEEP


# --- thresholds -----------------------------------------------------------------------------


@pytest.mark.parametrize("count, action", [(49, Action.KEEP), (50, Action.BLOCK),
                                           (51, Action.BLOCK)])
def test_an_unset_contact_is_blocked_from_the_block_threshold_on(count, action):
    decision = decide(contact(count=count))
    assert decision.action is action
    if action is Action.BLOCK:
        assert decision.rule is Rule.HIGH_VOLUME and f"{count} emails" in decision.reason


@pytest.mark.parametrize("count, action", [(9, Action.KEEP), (10, Action.WHITELIST),
                                           (11, Action.WHITELIST)])
@pytest.mark.parametrize("category", ["Finance", "Business Services", "Productivity & Tools"])
def test_a_trusted_category_is_whitelisted_from_the_whitelist_threshold_on(count, action,
                                                                         category):
    decision = decide(contact(count=count, category=category))
    assert decision.action is action
    if action is Action.WHITELIST:
        assert category in decision.reason


def test_an_untrusted_category_is_not_whitelisted():
    assert decide(contact(count=40, category="Social")).action is Action.KEEP


def test_thresholds_come_from_configuration():
    rules = ContactRules(block_threshold=100, whitelist_threshold=3)
    assert decide(contact(count=99), rules).action is Action.KEEP
    assert decide(contact(count=100), rules).action is Action.BLOCK
    assert decide(contact(count=3, category="Finance"), rules).action is Action.WHITELIST


@pytest.mark.parametrize("age_days, acted", [(6.99, False), (7, True), (7.01, True)])
def test_a_contact_younger_than_min_age_days_is_kept(age_days, acted):
    decision = decide(contact("x@a.xyz", count=500, age_days=age_days))
    assert (decision.action is Action.BLOCK) is acted
    if not acted:
        assert decision.rule is Rule.TOO_YOUNG and "younger than 7 days" in decision.reason


# --- precedence -----------------------------------------------------------------------------


def test_shopping_with_subscriptions_is_kept_even_at_high_volume_and_on_a_junk_tld():
    for email in ("deals@shop.com", "deals@shop.xyz"):
        decision = decide(contact(email, count=5000, category="Shopping", subscriptions=True))
        assert (decision.action, decision.rule) == (Action.KEEP, Rule.SUBSCRIPTIONS)
        assert "unsubscribe" in decision.reason


def test_shopping_without_subscriptions_follows_the_other_rules():
    assert decide(contact(count=60, category="Shopping")).action is Action.BLOCK


def test_a_junk_tld_wins_over_a_trusted_category():
    decision = decide(contact("billing@bank.xyz", count=20, category="Finance"))
    assert decision.rule is Rule.JUNK_TLD


def test_high_volume_wins_over_a_trusted_category():
    assert decide(contact(count=50, category="Finance")).action is Action.BLOCK


def test_a_contact_without_category_is_still_judged_by_tld_and_volume():
    assert decide(contact("x@a.top")).action is Action.BLOCK
    assert decide(contact(count=80)).action is Action.BLOCK
    assert decide(contact(count=8)).rule is Rule.NO_RULE


def test_an_invalid_address_is_skipped_before_any_other_rule():
    decision = decide(contact("not an address", count=999, age_days=1))
    assert (decision.action, decision.rule) == (Action.INVALID, Rule.INVALID_ADDRESS)
    assert not decision.changes


def test_a_contact_already_decided_is_kept():
    assert decide(contact("x@a.xyz", state="whitelisted")).rule is Rule.NOT_UNSET


def test_a_mute_category_is_muted_instead_of_blocked():
    rules = ContactRules(mute_categories=["Social"])
    junk = decide(contact("n@social.click", category="Social"), rules)
    loud = decide(contact(count=70, category="social"), rules)
    assert (junk.action, loud.action) == (Action.MUTE, Action.MUTE)
    assert junk.new_state == "muted" and "mute category" in loud.reason
    assert decide(contact(count=70, category="Finance"), rules).action is Action.BLOCK


def test_consistently_low_spam_scores_keep_a_high_volume_sender():
    rules = ContactRules(spam_score_check=True, low_spam_score=3.0, spam_score_min_messages=3)
    kept = decide(contact(count=200), rules, [0.1, 1.0, 2.9])
    assert (kept.action, kept.rule) == (Action.KEEP, Rule.LOW_SPAM_SCORE)
    assert decide(contact(count=200), rules, [0.1, 1.0, 3.0]).action is Action.BLOCK
    assert decide(contact(count=200), rules, [0.1, 1.0]).action is Action.BLOCK  # too few
    assert decide(contact(count=200), rules, None).action is Action.BLOCK  # not checked
    # the check never saves a junk TLD
    assert decide(contact("x@a.xyz", count=200), rules, [0.1] * 5).action is Action.BLOCK


def test_every_decision_says_why_in_words():
    for c in (contact("x@a.xyz"), contact(count=60), contact(count=12, category="Finance"),
              contact(), contact(age_days=1), contact("bad")):
        assert len(decide(c).reason) > 8


# --- properties -----------------------------------------------------------------------------

emails = st.one_of(
    st.emails().map(str),
    st.text(max_size=30),
    st.sampled_from(["x@a.xyz", "X@A.XYZ.", "a@b.top", "plain@example.com", "@", "a@"]),
)


@settings(max_examples=100, deadline=None)
@given(
    email=emails,
    count=st.integers(min_value=0, max_value=100_000),
    category=st.sampled_from([None, "Finance", "Shopping", "Social", "Business Services"]),
    age=st.floats(min_value=0, max_value=6.999),
    subscriptions=st.booleans(),
    min_age=st.integers(min_value=7, max_value=60),
)
def test_a_contact_younger_than_min_age_days_is_never_acted_on(email, count, category, age,
                                                               subscriptions, min_age):
    rules = ContactRules(min_age_days=min_age, mute_categories=["Social"])
    decision = decide(contact(email, count, category, age, subscriptions), rules)
    assert not decision.changes


@settings(max_examples=100, deadline=None)
@given(email=st.text(max_size=40), count=st.integers(min_value=0, max_value=10**9))
def test_no_address_crashes_the_rules(email, count):
    decision = decide(contact(email, count))
    assert decision.action in set(Action) and decision.reason
