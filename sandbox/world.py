"""Seeded generation of the sandbox world: Cleanbox teams and contacts, EmBoux domains.

Everything is drawn from `random.Random` seeded with strings derived from the seed, so the same
seed builds the same world on any machine. Scales: small (the demo), medium and large; a
`big_team_contacts` option puts N contacts in the first team for contact-cleanup benchmarks.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import timedelta

from sandbox import vocab
from sandbox.cleanbox_state import (
    BLOCKED,
    KIND_LEGIT,
    KIND_NEWSLETTER,
    KIND_SPAM,
    MUTED,
    UNSET,
    WHITELISTED,
    Team,
    TeamProfile,
)
from sandbox.clock import DEFAULT_START, SimClock
from sandbox.emboux import EmbouxSim
from sandbox.ids import KIND_CATEGORY, make_key, make_salt, make_uuid
from sandbox.journal import Journal

DAY = 86_400
WEEK = 7 * DAY
WEEKLY_LIMITS = (2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000)


@dataclass(frozen=True)
class ScaleSpec:
    """How big a world is, and how busy its teams and domains are per day."""

    teams: int
    domains: int
    contacts: int
    team_daily_messages: float
    domain_daily_sends: float


SCALES: dict[str, ScaleSpec] = {
    "small": ScaleSpec(3, 50, 6_000, 400.0, 120.0),
    "medium": ScaleSpec(200, 2_000, 100_000, 40.0, 40.0),
    "large": ScaleSpec(1_000, 20_000, 1_000_000, 40.0, 20.0),
}


@dataclass
class DomainProfile:
    """How one EmBoux domain sends, and whether and when its reputation decays."""

    name: str
    daily_sends: float
    bounce_p: float
    complaint_p: float
    recipients: int
    recipient_domain: str
    deteriorates_from: float | None = None
    spike_day: float | None = None


@dataclass
class World:
    """The whole simulated state the sandbox server serves and the traffic generator drives."""

    seed: int
    scale: str
    clock: SimClock
    teams: list[Team]
    categories: list[dict]
    emboux: EmbouxSim
    master_token: str
    customer_tokens: dict[str, str]
    domains: list[DomainProfile]
    slack_path: str
    mailgun_signing_key: str
    teams_by_key: dict[str, Team] = field(default_factory=dict)
    build_seconds: float = 0.0
    cleanbox_total: bool = True  # whether Cleanbox list pages carry "total"
    journal: Journal = field(init=False)

    def __post_init__(self) -> None:
        self.teams_by_key = {t.key: t for t in self.teams}
        self.journal = Journal(self.clock)

    @property
    def team_keys(self) -> dict[str, str]:
        """Team name -> API key."""
        return {t.name: t.key for t in self.teams}


def make_email(rng: random.Random, kind: int, taken: dict[str, int], serial: int) -> str:
    """A plausible sender address of this kind, unique within `taken` (lower-cased keys)."""
    r = rng.random()
    if r < 0.03:
        email = vocab.HOSTILE_EMAILS[int(r / 0.03 * len(vocab.HOSTILE_EMAILS))]
        if email.lower() not in taken:
            return email
    if kind == KIND_SPAM:
        local = f"{rng.choice(vocab.SPAM_WORDS)}{rng.randrange(1000)}"
        host = f"{rng.choice(vocab.SPAM_WORDS)}{rng.choice(vocab.SPAM_WORDS)}{rng.randrange(100)}"
        tld = rng.choice(vocab.JUNK_TLDS if rng.random() < 0.7 else vocab.SPAM_OTHER_TLDS)
    elif kind == KIND_NEWSLETTER:
        local = rng.choice(vocab.NEWSLETTER_LOCALS)
        host = f"{rng.choice(vocab.BRAND_WORDS)}{rng.randrange(50) or ''}"
        tld = rng.choice(vocab.COMMON_TLDS)
    else:
        local = f"{rng.choice(vocab.FIRST_NAMES)}.{rng.choice(vocab.LAST_NAMES)}"
        host = f"{rng.choice(vocab.COMPANY_WORDS)}{rng.randrange(40) or ''}"
        tld = rng.choice(vocab.COMMON_TLDS)
        if rng.random() < 0.1:
            tld = rng.choice(vocab.JUNK_TLDS)  # legit senders on junk TLDs exist too
    email = f"{local}@{host}.{tld}"
    if email.lower() in taken:
        email = f"{local}.{serial:x}@{host}.{tld}"
    return email


def contact_attributes(rng: random.Random) -> tuple[int, int, int, bool]:
    """(kind, state, category index or -1, has_subscriptions) of a newly seen sender."""
    r = rng.random()
    if r < 0.3:
        kind = KIND_SPAM
        state = BLOCKED if rng.random() < 0.2 else UNSET
        cat = rng.choice(vocab.SPAM_CATEGORIES) if rng.random() < 0.4 else -1
        subs = rng.random() < 0.3
    elif r < 0.55:
        kind = KIND_NEWSLETTER
        state = MUTED if rng.random() < 0.12 else UNSET
        cat = rng.choice(vocab.NEWSLETTER_CATEGORIES) if rng.random() < 0.95 else -1
        subs = rng.random() < 0.85
    else:
        kind = KIND_LEGIT
        state = WHITELISTED if rng.random() < 0.15 else UNSET
        cat = rng.choice(vocab.LEGIT_CATEGORIES) if rng.random() < 0.7 else -1
        subs = rng.random() < 0.1
    return kind, state, cat, subs


def fill_contacts(team: Team, n: int, rng: random.Random, now: int) -> None:
    """Give a team n contacts: heavy-tailed email counts (rank-decaying), mixed kinds and ages."""
    contacts = team.contacts
    taken = contacts.by_email
    rand = rng.random
    for i in range(n):
        kind, state, cat, subs = contact_attributes(rng)
        email = make_email(rng, kind, taken, i)
        count = int(((i + 1) / n) ** -0.8 * (0.5 + rand()) * (2.0 if kind == KIND_SPAM else 1.0))
        age = rand() * 7 * DAY if rand() < 0.05 else rand() * 730 * DAY
        contacts.add(email, max(1, count), state, cat, now - int(age) - 3600, subs, kind)


def split_counts(total: int, parts: int, rng: random.Random, minimum: int) -> list[int]:
    """Split total into heavy-tailed shares of at least `minimum` each."""
    weights = [rng.lognormvariate(0.0, 1.0) for _ in range(parts)]
    scale = max(0, total - minimum * parts) / sum(weights)
    return [minimum + int(w * scale) for w in weights]


def make_team(number: int, rng: random.Random, spec: ScaleSpec, start: float) -> Team:
    """One team with its key, limits, aliases and traffic profile."""
    base = vocab.TEAM_WORDS[number % len(vocab.TEAM_WORDS)]
    name = base if number < len(vocab.TEAM_WORDS) else f"{base} {number // len(vocab.TEAM_WORDS)}"
    slug = "".join(c for c in name.lower() if c.isalnum())
    daily = spec.team_daily_messages * rng.lognormvariate(0.0, 0.5)
    weekly_limit = next((w for w in WEEKLY_LIMITS if w >= daily * 7 * 1.6), WEEKLY_LIMITS[-1])
    aliases_limit = rng.choice((10, 50, 100, 500))
    aliases = [
        f"{vocab.ALIAS_WORDS[a % len(vocab.ALIAS_WORDS)]}{a // len(vocab.ALIAS_WORDS) or ''}"
        for a in range(rng.randint(2, min(aliases_limit, 40)))
    ]
    mailboxes_limit = rng.choice((5, 10, 25, 100))
    deteriorates = rng.random() < (1 / 3 if spec.teams <= 10 else 0.15)
    profile = TeamProfile(
        daily_messages=daily,
        fail_rate=rng.uniform(0.005, 0.03),
        new_sender_rate=rng.uniform(0.03, 0.08),
        deteriorates_from=start + rng.uniform(3, 14) * DAY if deteriorates else None,
        growth_per_week=rng.uniform(0.5, 1.0) if deteriorates else 0.0,
    )
    return Team(
        number=number,
        id=f"team_{rng.getrandbits(48):012x}",
        name=name,
        key=make_key(rng, "cbk_"),
        salt=make_salt(rng),
        domain=f"{slug}.example",
        aliases=aliases,
        weekly_limit=weekly_limit,
        aliases_limit=aliases_limit,
        mailboxes_used=rng.randint(1, mailboxes_limit),
        mailboxes_limit=mailboxes_limit,
        profile=profile,
    )


def add_domains(
    sim: EmbouxSim, partners: list[str], n: int, rng: random.Random, spec: ScaleSpec, start: float
) -> list[DomainProfile]:
    """Register n sending domains across the partners and draw each one's sending profile."""
    profiles: list[DomainProfile] = []
    clock_today = sim.clock.today()
    parents: list[tuple[str, str]] = []
    used: set[str] = set()
    for d in range(n):
        partner = partners[min(len(partners) - 1, int(len(partners) * rng.random() ** 1.5))]
        if parents and rng.random() < 0.15:
            parent, partner = rng.choice(parents)
            name = f"{rng.choice(('mail', 'news', 'mx', 'app'))}{d}.{parent}"
        else:
            word = rng.choice(vocab.COMPANY_WORDS + vocab.BRAND_WORDS)
            name = f"{word}-{d}.{rng.choice(('com', 'net', 'io', 'de', 'co.uk'))}"
            parents.append((name, partner))
        if name in used:
            continue
        used.add(name)
        daily_limit = rng.choice((0, 500, 1_000, 2_000, 5_000, 10_000))
        recent = rng.random() < 0.1
        sim.add_domain(
            name,
            partner,
            verified=rng.random() < 0.95,
            daily_limit=daily_limit,
            monthly_limit=daily_limit * 25 if rng.random() < 0.6 else 0,
            tier="dedicated" if rng.random() < 0.15 else "shared",
            enforcement="soft" if rng.random() < 0.2 else "hard",
            warmup_profile=rng.choice(("fast", "standard", "standard", "standard", "conservative")),
            status="suspended" if rng.random() < 0.03 else "active",
            spike_max_multiplier=rng.choice((5.0, 5.0, 5.0, 3.0, 0.0)),
            provider="ses" if rng.random() < 0.3 else "mailgun",
            warmup_started=clock_today - timedelta(days=rng.randint(0, 20) if recent else 400),
        )
        sends = spec.domain_daily_sends * rng.lognormvariate(0.0, 1.0)
        if 0 < daily_limit <= 2 * spec.domain_daily_sends * 10 and rng.random() < 0.1:
            sends = daily_limit * rng.uniform(0.8, 1.2)  # domains that live near their limit
        deteriorates = rng.random() < 0.08
        profiles.append(DomainProfile(
            name=name,
            daily_sends=sends,
            bounce_p=rng.uniform(0.0005, 0.003),
            complaint_p=rng.uniform(0.00005, 0.0005),
            recipients=max(50, int(sends * 20)),
            recipient_domain=rng.choice(("gmail.com", "outlook.com", "yahoo.com", "web.de")),
            deteriorates_from=start + rng.uniform(3, 21) * DAY if deteriorates else None,
            spike_day=start + rng.randint(2, 30) * DAY if rng.random() < 0.03 else None,
        ))
    return profiles


def build_world(
    seed: int = 7,
    scale: str = "small",
    *,
    big_team_contacts: int = 0,
    clock: SimClock | None = None,
    history_days: int = 3,
) -> World:
    """Build the seeded world; `history_days` of inbound traffic precede the clock's start."""
    import time

    from sandbox.traffic import simulate_history

    began = time.perf_counter()
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, not {scale!r}")
    spec = SCALES[scale]
    clock = clock or SimClock(DEFAULT_START)
    rng = random.Random(f"mailops-sandbox:{seed}:{scale}:world")
    start = clock.now().timestamp()
    cat_salt = make_salt(rng)
    categories = [
        {"uuid": make_uuid(cat_salt, KIND_CATEGORY, i), "name": name}
        for i, name in enumerate(vocab.CATEGORIES)
    ]
    teams = [make_team(i, rng, spec, start) for i in range(spec.teams)]
    counts = split_counts(spec.contacts, spec.teams, rng, minimum=20)
    if big_team_contacts:
        counts[0] = big_team_contacts
    for team, n in zip(teams, counts, strict=True):
        fill_contacts(team, n, random.Random(f"{seed}:{scale}:contacts:{team.number}"), int(start))
    master_token = make_key(rng, "emb_master_")
    signing_key = make_key(rng, "mgkey_")
    sim = EmbouxSim(clock, master_token=master_token, mailgun_signing_key=signing_key)
    customer_tokens: dict[str, str] = {}
    for team in teams:
        partner = f"p-{team.domain.split('.')[0][:24]}-{team.number}"
        customer_tokens[partner] = make_key(rng, "emb_cust_")
        sim.add_customer(customer_tokens[partner], partner)
    domains = add_domains(sim, list(customer_tokens), spec.domains, rng, spec, start)
    world = World(
        seed=seed,
        scale=scale,
        clock=clock,
        teams=teams,
        categories=categories,
        emboux=sim,
        master_token=master_token,
        customer_tokens=customer_tokens,
        domains=domains,
        slack_path=f"/slack/services/T{rng.getrandbits(32):08X}/B{rng.getrandbits(32):08X}/"
        f"{rng.getrandbits(96):024x}",
        mailgun_signing_key=signing_key,
    )
    simulate_history(world, history_days * DAY)
    world.build_seconds = time.perf_counter() - began
    return world


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth below 30, normal approximation above)."""
    if lam <= 0:
        return 0
    if lam >= 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
