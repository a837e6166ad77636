"""`task`: Prefect's task decorator as every mailops task uses it, without a cache policy.

A mailops task reads or changes a live account, so a cached result would be a stale read or
a change never made; and Prefect's default policy hashes every input (a settings object, a
client) on each call. So no task caches: one place says it, not each decorator
(`PREFECT_TASKS_DEFAULT_NO_CACHE` would too, but only in a process that set it before
importing Prefect).
"""

from __future__ import annotations

from typing import Any

from prefect import task as prefect_task
from prefect.cache_policies import NO_CACHE


def task(**options: Any) -> Any:
    """`prefect.task(**options)` with no cache policy; retries and the rest as given."""
    return prefect_task(cache_policy=NO_CACHE, **options)
