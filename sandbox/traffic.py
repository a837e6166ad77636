"""Simulated traffic: what happens in the world while the clock advances.

Time is cut into hour slots. Each slot's events are drawn from a generator seeded by (seed,
scale, slot) alone, with every random number an event needs drawn up front, so advancing 48
hours at once or in two steps of 24 produces exactly the same traffic. Inbound mail reaches
Cleanbox teams (messages, quarantine, contacts, usage); outbound sends go through EmbouxSim's
increment policy, and bounces and complaints through its bounce()/complain() logic.
Some teams and domains deteriorate from a drawn day on, so trends and alerts have something
to find. Advancing never calls reset-daily/reset-monthly (the client's cron jobs), but a
Cleanbox team's weekly usage starts over at Monday 00:00 UTC.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sandbox import vocab
from sandbox.cleanbox_state import (
    BLOCKED,
    DELIVERED,
    DENIED,
    FAILED,
    KIND_LEGIT,
    KIND_NEWSLETTER,
    KIND_SPAM,
    QUARANTINED,
    UNSET,
    Team,
    day_of,
)
from sandbox.world import (
    DAY,
    WEEK,
    DomainProfile,
    World,
    contact_attributes,
    make_email,
    poisson,
)

HOUR = 3_600
_DIURNAL_RAW = (0.2, 0.15, 0.15, 0.15, 0.2, 0.35, 0.7, 1.1, 1.5, 1.8, 1.8, 1.6,
                1.4, 1.6, 1.7, 1.6, 1.4, 1.2, 1.0, 0.9, 0.8, 0.6, 0.4, 0.3)
DIURNAL = tuple(w * 24 / sum(_DIURNAL_RAW) for w in _DIURNAL_RAW)
WEEKDAY = (1.15, 1.15, 1.15, 1.15, 1.15, 0.6, 0.6)  # Monday first
SCORE_MODEL = {KIND_LEGIT: (1.0, 1.0), KIND_NEWSLETTER: (3.0, 1.5), KIND_SPAM: (7.0, 1.8)}

Event = tuple  # (ts, kind 0 inbound | 1 outbound, entity number, *draws)


def team_growth(team: Team, t: float) -> float:
    """1 for a steady team; rising linearly per week once a deteriorating team has started."""
    start = team.profile.deteriorates_from
    if start is None or t < start:
        return 1.0
    return 1.0 + team.profile.growth_per_week * (t - start) / WEEK


def domain_rates(d: DomainProfile, t: float) -> tuple[float, float, float]:
    """(volume factor, bounce probability, complaint probability) of a domain at time t."""
    volume = 8.0 if d.spike_day is not None and d.spike_day <= t < d.spike_day + DAY else 1.0
    if d.deteriorates_from is None or t < d.deteriorates_from:
        return volume, d.bounce_p, d.complaint_p
    decay = min(1.0, (t - d.deteriorates_from) / (2 * WEEK))
    return (
        volume,
        d.bounce_p + (0.03 - d.bounce_p) * decay,
        d.complaint_p + (0.004 - d.complaint_p) * decay,
    )


def slot_events(world: World, slot: int, outbound: bool) -> list[Event]:
    """Every event of one hour slot, sorted by time; depends only on seed, scale and slot."""
    rng = random.Random(f"mailops-sandbox:{world.seed}:{world.scale}:slot:{slot}")
    s0 = slot * HOUR
    moment = datetime.fromtimestamp(s0, UTC)
    factor = DIURNAL[moment.hour] * WEEKDAY[moment.weekday()] / 24
    events: list[Event] = []
    rand, gauss, bits = rng.random, rng.gauss, rng.getrandbits
    for team in world.teams:
        lam = team.profile.daily_messages * factor * team_growth(team, s0)
        for _ in range(poisson(rng, lam)):
            events.append((s0 + int(rand() * HOUR), 0, team.number, rand(), rand(), gauss(0, 1),
                           rand(), rand(), rand(), rand(), bits(32)))
    if outbound:
        for number, d in enumerate(world.domains):
            volume, _, _ = domain_rates(d, s0)
            for _ in range(poisson(rng, d.daily_sends * factor * volume)):
                events.append((s0 + int(rand() * HOUR), 1, number, int(rand() * d.recipients),
                               rand(), rand()))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return events


def display_from(email: str, u: float) -> str:
    """The From header: usually the bare address, sometimes with a (possibly hostile) name."""
    if u < 0.04:
        name = vocab.HOSTILE_DISPLAY_NAMES[int(u / 0.04 * len(vocab.HOSTILE_DISPLAY_NAMES))]
        return f'"{name}" <{email}>'
    if u < 0.2:
        local = email.split("@", 1)[0].replace(".", " ").title()
        return f'"{local}" <{email}>'
    return email


def subject_for(kind: int, u: float, n: int) -> str:
    """A subject line fitting the sender's kind, hostile now and then."""
    if u < 0.04:
        return vocab.HOSTILE_SUBJECTS[int(u / 0.04 * len(vocab.HOSTILE_SUBJECTS))]
    pool = vocab.SUBJECTS[8:] if kind == KIND_SPAM else vocab.SUBJECTS[:8]
    template = pool[int(u * len(pool)) % len(pool)]
    return template.format(month=vocab.MONTHS[n % 12], n=n % 1000)


def apply_inbound(team: Team, ev: Event) -> bool:
    """Deliver one inbound message to a team; True when it came from a new contact."""
    ts, _, _, u_sender, u_new, g, u_fail, u_display, u_subject, u_alias, new_seed = ev
    contacts = team.contacts
    n = len(contacts)
    growth = team_growth(team, ts)
    created = False
    if n == 0 or u_new < min(0.5, team.profile.new_sender_rate * growth):
        r2 = random.Random(new_seed)
        kind, _, cat, subs = contact_attributes(r2)
        if growth > 1.0 and r2.random() < 1.0 - 1.0 / growth:
            kind = KIND_SPAM  # a deteriorating team attracts a spam campaign
        email = make_email(r2, kind, contacts.by_email, n)
        idx = contacts.add(email, 0, UNSET, cat, ts, subs, kind)
        created = True
    else:
        idx = int(n * u_sender**3)
    contacts.bump(idx)
    kind, state = contacts.kinds[idx], contacts.states[idx]
    mean, spread = SCORE_MODEL[kind]
    score = round(min(10.0, max(0.0, mean + spread * g)), 1)
    fail_rate = min(0.5, team.profile.fail_rate * growth)
    if state == BLOCKED or (state == UNSET and score >= 9.0):
        status = DENIED
    elif state == UNSET and score >= 5.0:
        status = QUARANTINED
    else:
        status = FAILED if u_fail < fail_rate else DELIVERED
    email = contacts.emails[idx]
    alias = team.aliases[int(u_alias * len(team.aliases))]
    team.receive(
        display_from(email, u_display),
        email.lower(),
        f"{alias}@{team.domain}",
        subject_for(kind, u_subject, int(ts)),
        status,
        score,
        ts,
    )
    return created


def run(world: World, t0: int, t1: int, *, outbound: bool, move_clock: bool) -> dict[str, int]:
    """Apply every event in [t0, t1), closing days and weeks as their boundaries pass."""
    summary = {"messages": 0, "new_contacts": 0, "sends": 0, "allowed": 0, "bounces": 0,
               "complaints": 0, "days_closed": 0}
    sim, clock = world.emboux, world.clock
    slot = t0 // HOUR
    while slot * HOUR < t1:
        s0, s1 = slot * HOUR, (slot + 1) * HOUR
        lo, hi = max(t0, s0), min(t1, s1)
        for ev in slot_events(world, slot, outbound):
            ts = ev[0]
            if not lo <= ts < hi:
                continue
            if move_clock and ts > clock.now().timestamp():
                clock.set(datetime.fromtimestamp(ts, UTC))
            if ev[1] == 0:
                summary["messages"] += 1
                summary["new_contacts"] += apply_inbound(world.teams[ev[2]], ev)
                continue
            d = world.domains[ev[2]]
            _, bounce_p, complaint_p = domain_rates(d, ts)
            recipient = f"user{ev[3]}x{ev[2] % 53}@{d.recipient_domain}"
            summary["sends"] += 1
            if sim.increment(d.name, recipient)["allowed"]:
                summary["allowed"] += 1
                if ev[4] < bounce_p:
                    sim.bounce(d.name, recipient)
                    summary["bounces"] += 1
                elif ev[5] < complaint_p:
                    sim.complain(d.name, recipient)
                    summary["complaints"] += 1
        if t0 < s1 <= t1 and s1 % DAY == 0:
            if move_clock:
                clock.set(datetime.fromtimestamp(s1, UTC))
            close_day(world, s1)
            summary["days_closed"] += 1
        slot += 1
    if move_clock:
        clock.set(datetime.fromtimestamp(t1, UTC))
    return summary


def close_day(world: World, midnight: int) -> None:
    """Snapshot each team's day that ends at `midnight`; on Monday start weekly usage over."""
    ended = day_of(midnight - 1)
    monday = datetime.fromtimestamp(midnight, UTC).weekday() == 0
    for team in world.teams:
        team.close_day(ended)
        if monday:
            team.weekly_used = 0


def advance(world: World, seconds: int) -> dict[str, int | str]:
    """Move the clock forward by `seconds`, generating both APIs' traffic on the way."""
    if seconds < 0:
        raise ValueError("the simulated clock cannot go backwards")
    t0 = int(world.clock.now().timestamp())
    generated = run(world, t0, t0 + seconds, outbound=True, move_clock=True)
    summary: dict[str, int | str] = dict(generated)
    summary["now"] = world.clock.now().isoformat()
    return summary


def simulate_history(world: World, seconds: int) -> None:
    """Inbound mail of the `seconds` before the clock's start, so a new world is not empty."""
    t1 = int(world.clock.now().timestamp())
    run(world, t1 - seconds, t1, outbound=False, move_clock=False)
