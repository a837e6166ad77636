"""Prefect flows: orchestration only, one module per job."""

import tasks  # noqa: F401  (sets Prefect's quiet defaults before Prefect is imported)
