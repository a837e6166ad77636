"""A name's registrable domain by the Public Suffix List (https://publicsuffix.org), offline.

The one place mailops reads the list: the copy bundled with the `publicsuffixlist`
package, loaded once on first use (about 0.1 s), never fetched. `mailops.rules` stays pure
(standard library, its models and settings types only): a rule that needs the list takes
`registrable_domain` as an argument (`rules.domains.parent_of`, `rules.guard.group_of`).

Both sections of the list count, ICANN's and the private one. A private entry
(`github.io`, `blogspot.com`, ...) is a suffix under which different customers hold
sibling names, which is exactly the boundary both uses here need: `acme.github.io` is not a
subdomain registered under `github.io` (mailops does not own it, and a subdomain inherits
its parent's verification), and the guard must not group every customer of one platform
together (one customer's bounces would pause the others by the group ratio). Browsers read
the list the same way.

A name under a top-level domain the list does not know (`new.example`) takes the list's
default rule `*`: its last label is the public suffix, as for `com`.
"""

from __future__ import annotations

from functools import cache

from publicsuffixlist import PublicSuffixList


@cache
def _list() -> PublicSuffixList:
    return PublicSuffixList()  # the bundled list, ICANN and private sections


def registrable_domain(name: str) -> str | None:
    """The registrable domain of `name` (its public suffix and one label more), lowercase.

    `news.acme.com.sg` -> `acme.com.sg`, `shop.co.uk` -> `shop.co.uk`; None when `name`
    is itself a public suffix (`co.uk`, `com`) or not a domain name. `name` is expected
    normalised (`mailops.rules.domains.normalise`): ASCII, IDNs in their xn-- form.
    """
    return _list().privatesuffix(name)
