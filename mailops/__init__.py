"""mailops: email-operations automation over Cleanbox and EmBoux.

The library: configuration, the HTTP layer and API clients, the trend store, the pure
decision rules and the local sandbox. It never imports Prefect, `tasks` or `flows`.
"""

__version__ = "0.1.0"
