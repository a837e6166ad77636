"""A number an API answers, bounded to what every store column can hold.

The trend, billing and guard tables keep counters in SQL `INTEGER` columns: PostgreSQL's hold
-2,147,483,648 to 2,147,483,647, and one answer outside them used to fail the whole day's
write ("integer out of range"). Bounded where an answer is parsed, such a value is that team's
or domain's clear error ("Input should be less than or equal to 2147483647"), and the day goes
on with everyone else. The bound is the column's, not a business rule: a limit of -1 passes.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

COUNT_MIN = -(2**31)
COUNT_MAX = 2**31 - 1
Count = Annotated[int, Field(ge=COUNT_MIN, le=COUNT_MAX)]
