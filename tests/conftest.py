"""Shared fixtures. Each area keeps its fixtures in its own marked section."""

from __future__ import annotations

# --- sandbox fixtures (mailops.sandbox) ---------------------------------------------------

# --- end of sandbox fixtures ---------------------------------------------------------------
