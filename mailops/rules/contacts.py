"""The contact rules as pure functions: what to do with one unset contact, and why.

The rules are Cleanbox's contact-bot guide's (docs/cleanbox-api.md#contact-rules).

Precedence (first match wins):
1. an address that is not an address (empty, no `@`, no domain) -> skipped and counted;
2. a contact that is not unset -> keep (someone already decided);
3. younger than `min_age_days` -> keep (the guide: too new to have a pattern);
4. a `keep_categories_with_subscriptions` contact (Shopping) with subscriptions -> keep:
   the table says unsubscribe, not block, even at high volume;
5. a junk top-level domain of the address's real domain -> block (mute in a mute category);
6. at least `block_threshold` emails -> block (or mute), unless the optional spam-score
   check finds its recent messages consistently low -> keep;
7. a trusted category with at least `whitelist_threshold` emails -> whitelist;
8. otherwise keep.

What the guide's sample gets wrong, fixed here: `extract_tld` took the text after the first
`@` (a quoted local part such as `"@channel"@urgent.buzz` has one) and compared it case-
sensitively, so `.XYZ`, `example.xyz.` (trailing dot) and IDN domains slipped through; it
blocked contacts of any age; and it blocked high-volume Shopping senders with subscriptions,
which its own table says to keep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from mailops.models.cleanbox import Contact
from mailops.settings import ContactRules


class Action(StrEnum):
    BLOCK = "block"
    WHITELIST = "whitelist"
    MUTE = "mute"
    KEEP = "keep"
    INVALID = "invalid"  # cannot be classified: skipped and counted


class Rule(StrEnum):
    """Which rule decided: the key reports count by."""

    INVALID_ADDRESS = "invalid-address"
    NOT_UNSET = "not-unset"
    TOO_YOUNG = "too-young"
    SUBSCRIPTIONS = "subscriptions"
    JUNK_TLD = "junk-tld"
    HIGH_VOLUME = "high-volume"
    LOW_SPAM_SCORE = "low-spam-score"
    TRUSTED_CATEGORY = "trusted-category"
    NO_RULE = "no-rule"


NEW_STATE: dict[Action, str] = {
    Action.BLOCK: "blocked",
    Action.WHITELIST: "whitelisted",
    Action.MUTE: "muted",
}
CHANGES: tuple[Action, ...] = (Action.BLOCK, Action.WHITELIST, Action.MUTE)


@dataclass(frozen=True)
class Decision:
    """What to do with one contact, which rule said so, and why in words."""

    action: Action
    rule: Rule
    reason: str

    @property
    def changes(self) -> bool:
        return self.action in CHANGES

    @property
    def new_state(self) -> str | None:
        return NEW_STATE.get(self.action)


def ascii_domain(domain: str) -> str:
    """A domain in lower-case ASCII (punycode for IDN labels), without trailing dots.

    `Bücher.XYZ.` and `xn--bcher-kva.xyz` give the same answer; a label IDNA refuses is
    kept lower-cased as it is, so odd input still compares instead of crashing.
    """
    for dot in "\u3002\uff0e\uff61":  # the other full stops IDNA treats as dots
        domain = domain.replace(dot, ".")
    labels = []
    for label in domain.strip().rstrip(".").split("."):
        try:
            labels.append(label.encode("idna").decode("ascii").lower())
        except UnicodeError:
            labels.append(label.lower())
    return ".".join(labels)


def real_domain(email: str) -> str | None:
    """The domain an address delivers from: after the LAST `@` (a quoted local part may hold
    one), normalised by `ascii_domain`; None when the text is not an address."""
    text = (email or "").strip()
    local, at, domain = text.rpartition("@")
    if not at or not local.strip():
        return None
    normalised = ascii_domain(domain)
    if not normalised or normalised.startswith(".") or ".." in normalised or " " in normalised:
        return None
    return normalised


def top_level_domain(domain: str) -> str:
    """`.tld` of a normalised domain (the whole domain for a single label)."""
    return "." + domain.rsplit(".", 1)[-1]


def normalised_tlds(tlds: Sequence[str]) -> frozenset[str]:
    """Configured TLDs in the form `top_level_domain` gives (`.xyz`, IDN as punycode)."""
    return frozenset("." + ascii_domain(t.strip().lstrip(".")) for t in tlds if t.strip(". "))


def _folded(names: Sequence[str]) -> frozenset[str]:
    return frozenset(name.strip().casefold() for name in names)


def classify(
    contact: Contact,
    rules: ContactRules,
    now: datetime,
    spam_scores: Sequence[float] | None = None,
    *,
    junk_tlds: frozenset[str] | None = None,
) -> Decision:
    """The contact rules' decision for one contact at instant `now` (see the module's precedence).

    `spam_scores` are the contact's recent messages' scores when the spam-score check ran
    for it (None: not checked). `junk_tlds` may be passed pre-normalised for speed.
    """
    domain = real_domain(contact.email)
    if domain is None:
        return Decision(Action.INVALID, Rule.INVALID_ADDRESS,
                        "not an email address (no domain after an @)")
    if contact.state != "unset":
        return Decision(Action.KEEP, Rule.NOT_UNSET, f"already {contact.state}")
    if now - contact.created_at < timedelta(days=rules.min_age_days):
        return Decision(Action.KEEP, Rule.TOO_YOUNG,
                        f"younger than {rules.min_age_days} days: no pattern yet")
    category = contact.category.name if contact.category else None
    folded = category.strip().casefold() if category else None
    count = contact.email_count
    if contact.has_subscriptions and folded in _folded(rules.keep_categories_with_subscriptions):
        return Decision(Action.KEEP, Rule.SUBSCRIPTIONS,
                        f"{category} contact with subscriptions: unsubscribe rather than block")
    muted = folded is not None and folded in _folded(rules.mute_categories)
    stop = Action.MUTE if muted else Action.BLOCK
    tld = top_level_domain(domain)
    if tld in (junk_tlds if junk_tlds is not None else normalised_tlds(rules.junk_tlds)):
        how = f" (mute: {category} is a mute category)" if muted else ""
        return Decision(stop, Rule.JUNK_TLD, f"junk TLD {tld}{how}")
    if count >= rules.block_threshold:
        if (
            spam_scores is not None
            and len(spam_scores) >= rules.spam_score_min_messages
            and max(spam_scores) < rules.low_spam_score
        ):
            return Decision(
                Action.KEEP, Rule.LOW_SPAM_SCORE,
                f"{count} emails but its last {len(spam_scores)} messages all scored below "
                f"{rules.low_spam_score:g} (highest {max(spam_scores):g}): probably legitimate",
            )
        how = f" (mute: {category} is a mute category)" if muted else ""
        return Decision(
            stop, Rule.HIGH_VOLUME,
            f"{count} emails (at least {rules.block_threshold}) and never acted on{how}",
        )
    if (
        folded is not None
        and folded in _folded(rules.trusted_categories)
        and count >= rules.whitelist_threshold
    ):
        return Decision(
            Action.WHITELIST, Rule.TRUSTED_CATEGORY,
            f"trusted category {category} with {count} emails "
            f"(at least {rules.whitelist_threshold})",
        )
    return Decision(Action.KEEP, Rule.NO_RULE, "no rule matched")


def wants_spam_check(contact: Contact, rules: ContactRules, now: datetime) -> bool:
    """Whether the spam-score check could change this contact's decision (a volume block)."""
    if not rules.spam_score_check:
        return False
    return classify(contact, rules, now).rule is Rule.HIGH_VOLUME
