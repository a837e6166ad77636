"""The monitoring dashboard over the store: health, trends and activity, read-only."""

from mailops.dashboard.app import create_app

__all__ = ["create_app"]
