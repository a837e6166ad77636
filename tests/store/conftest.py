"""The store's own fixtures (the shared ones are in tests/fixtures_store.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_store import STORE_BACKENDS, new_database


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of the test's own: a SQLite file, then a PostgreSQL database."""
    return new_database(request, request.param, tmp_path, migrated=False)
