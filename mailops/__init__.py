"""mailops: email-operations automation over Cleanbox and EmBoux.

The library: configuration, the HTTP layer and API clients, the models every layer shares,
the trend store and the pure decision rules. It never imports Prefect, `tasks` or `flows`.
"""

__version__ = "0.1.0"
