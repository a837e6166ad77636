"""A resumed gated run: apply (or show again) the stored plan of an earlier run.

`mailops contacts cleanup --resume RUN_ID` and `mailops quarantine accept --resume RUN_ID`
start one; no deployment does, so no Run form ever asks for a run id. The stored plan was
decided by its own run (its rules, threshold and clock), so a resume takes only what decides
how the plan is applied and reported.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Resume(BaseModel):
    """Which earlier run's stored plan to finish, for which teams, and how."""

    model_config = ConfigDict(frozen=True)

    run_id: str = Field(description="the earlier run whose stored plan is applied")
    teams: tuple[str, ...] = Field((), description="only these teams' part; empty: all")
    apply: bool = Field(True, description="apply it; off, show the stored plan again")
    max_actions: int | None = Field(None, description="refuse a plan of more changes than "
                                    "this; by default the job's setting")
    as_of: datetime | None = Field(None, description="the instant the summary is stamped "
                                   "with; by default now")
    notify: bool = Field(True, description="post the Slack summary")
