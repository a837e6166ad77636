"""A free TCP port on 127.0.0.1, for the local stand-ins (PostgreSQL, Prefect, a closed port).

Free when asked: another process may take it before it is bound, so a caller that can retry
on a taken port should.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nobody listens on at this moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
