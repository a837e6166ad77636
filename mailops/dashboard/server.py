"""Running the dashboard: blocking (`mailops dashboard`) or in a background thread (tests).

The access log stays off: a `?token=` someone puts in an address is refused by the app, and
must not reach a log either.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from mailops.dashboard.app import DEFAULT_REFRESH_SECONDS, create_app
from mailops.settings import GuardSettings
from mailops.store import Store

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8760
START_TIMEOUT = 30.0


def _config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=host, port=port, lifespan="off", access_log=False, log_level="warning",
        proxy_headers=False, server_header=False, timeout_graceful_shutdown=1,
    )


class Dashboard:
    """A dashboard served in a background thread, for tests and embedding."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, host: str,
                 port: int) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"

    @classmethod
    def start(
        cls,
        store: Store,
        *,
        rules: GuardSettings | None = None,
        token: str | None = None,
        refresh_seconds: int = DEFAULT_REFRESH_SECONDS,
        host: str = DEFAULT_HOST,
        port: int = 0,
    ) -> Dashboard:
        """Serve the dashboard over `store` on `host` (port 0: any free port)."""
        app = create_app(store, rules=rules, token=token, refresh_seconds=refresh_seconds)
        server = uvicorn.Server(_config(app, host, port))
        thread = threading.Thread(target=server.run, name="mailops-dashboard", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not start on {host}:{port}")
            time.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()[1]
        return cls(server, thread, host, bound)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve(
    store: Store,
    *,
    rules: GuardSettings | None = None,
    token: str | None = None,
    refresh_seconds: int = DEFAULT_REFRESH_SECONDS,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
) -> None:
    """Serve the dashboard until interrupted."""
    app = create_app(store, rules=rules, token=token, refresh_seconds=refresh_seconds)
    uvicorn.Server(_config(app, host, port)).run()
