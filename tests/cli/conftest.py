"""The command tests' own fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest


@pytest.fixture
def mailops_process(prefect_harness: None) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `mailops ARGS` in a process of its own, as a person does: this process's
    environment (the test's MAILOPS_ variables, and `env`) and the harness's Prefect server
    as PREFECT_API_URL, so that it pays no Prefect server's start."""
    from prefect.settings import PREFECT_API_URL

    def run(*args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()),
                       **(env or {})}
        return subprocess.run([sys.executable, "-m", "cli", *args], env=environment,
                              capture_output=True, text=True, timeout=timeout, check=False)

    return run
