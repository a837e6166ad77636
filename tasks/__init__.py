"""Prefect tasks: each one a retryable unit around one `mailops` library call."""
