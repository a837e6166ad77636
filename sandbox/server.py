"""Running the sandbox: in-process on an ephemeral port (tests, demo, benchmarks) or blocking.

    with Sandbox.start(seed=7, scale="small") as sb:
        httpx.get(f"{sb.cleanbox_url}/team", headers={"Authorization": f"Bearer {key}"})
        sb.advance(days=1)

Uvicorn (uvloop + httptools, access log off) serves in a background thread on 127.0.0.1.
Control calls (advance, faults, truth) go over HTTP to /_sandbox so that all state is touched
only by the server's event loop thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from sandbox.app import SandboxApp, create_app
from sandbox.world import World, build_world

START_TIMEOUT = 30.0


class Sandbox:
    """A running sandbox server and the URLs, keys and controls a client needs."""

    def __init__(self, app: SandboxApp, server: uvicorn.Server, thread: threading.Thread,
                 host: str, port: int) -> None:
        self.app = app
        self.world: World = app.world
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port
        self.base_url = f"http://{host}:{port}"
        self.cleanbox_url = f"{self.base_url}/cleanbox/v1"
        self.emboux_url = f"{self.base_url}/emboux"
        self.slack_webhook_url = f"{self.base_url}{self.world.slack_path}"
        self.control_url = f"{self.base_url}/_sandbox"
        self.team_keys: dict[str, str] = dict(self.world.team_keys)
        self.master_token: str = self.world.master_token
        self.customer_tokens: dict[str, str] = dict(self.world.customer_tokens)
        self.mailgun_signing_key: str = self.world.mailgun_signing_key
        self.seed = self.world.seed
        self.scale = self.world.scale
        # A connection per control call: a kept-alive one that the server closes after its
        # idle timeout, just as a call reuses it, failed a 25-minute chaos run at its end
        # ("Server disconnected without sending a response").
        self._control = httpx.Client(
            base_url=self.control_url, timeout=600.0, trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    @classmethod
    def start(
        cls,
        seed: int = 7,
        scale: str = "small",
        *,
        cleanbox_total: bool = True,
        big_team_contacts: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        world: World | None = None,
    ) -> Sandbox:
        """Build the seeded world (or use `world`) and serve it in a background thread."""
        world = world or build_world(seed, scale, big_team_contacts=big_team_contacts)
        world.cleanbox_total = cleanbox_total
        app = create_app(world)
        config = uvicorn.Config(
            app.asgi,
            host=host,
            port=port,
            loop="uvloop",
            http="httptools",
            lifespan="off",
            access_log=False,
            log_level="warning",
            proxy_headers=False,
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=1,
            backlog=4096,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="mailops-sandbox", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox server did not start on {host}:{port}")
            time.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()[1]
        return cls(app, server, thread, host, bound)

    # --- controls, over HTTP -----------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        if "json" in kwargs:  # as \u escapes, so a rule can carry a lone surrogate or a NUL
            kwargs["content"] = json.dumps(kwargs.pop("json"), ensure_ascii=True)
            kwargs["headers"] = {"content-type": "application/json"}
        response = self._control.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def advance(self, hours: float = 0, days: float = 0) -> dict[str, Any]:
        """Advance the simulated clock, generating traffic; answers what was generated."""
        return self._call("POST", "/advance", json={"hours": hours, "days": days})

    def now(self) -> datetime:
        return datetime.fromisoformat(self._call("GET", "/clock")["now"])

    def inject_fault(self, target: str, kind: str, **params: Any) -> dict[str, Any]:
        """Install a fault rule (see faults.py); answers it, with its `id`."""
        return self._call("POST", "/faults", json={"target": target, "kind": kind, **params})

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults")["data"]

    def fault_log(self) -> list[dict[str, Any]]:
        """Every request a fault rule hit, with its body: what the client sent."""
        return self._call("GET", "/faults/log")["data"]

    def remove_fault(self, rule_id: str) -> None:
        self._call("DELETE", f"/faults/{rule_id}")

    def clear_faults(self) -> int:
        return self._call("DELETE", "/faults")["removed"]

    def slack_posts(self) -> list[dict[str, Any]]:
        """Every request the Slack stand-in received: path, payload, status, simulated time."""
        return self._call("GET", "/slack")["data"]

    def clear_slack(self) -> int:
        return self._call("DELETE", "/slack")["removed"]

    def truth(self, part: str | None = None) -> dict[str, Any]:
        """Ground truth: Cleanbox per team per day and EmBoux counters (or one `part`)."""
        return self._call("GET", "/truth", params={"part": part} if part else None)

    def record_collection(self, day: str, top_senders: int = 5) -> dict[str, Any]:
        """Keep the metrics a collection for `day` would read now (the journal's ground
        truth of that collection instant) and answer them."""
        return self._call("POST", "/collections", json={"day": day, "top_senders": top_senders})

    def journal(self) -> dict[str, Any]:
        """Every change the APIs applied on request, and the recorded collections."""
        return self.truth("journal")["journal"]

    def set_cleanbox_total(self, on: bool) -> None:
        """Switch `"total"` in Cleanbox list pages on or off."""
        self._call("PUT", "/settings", json={"cleanbox_total": on})

    def info(self) -> dict[str, Any]:
        return self._call("GET", "/info")

    # --- lifecycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving and wait for the server thread."""
        self._control.close()
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        except KeyboardInterrupt:
            self.stop()


def describe(sb: Sandbox, limit: int = 5) -> str:
    """What a user needs to point mailops at the sandbox: URLs, keys, environment."""
    first_key = next(iter(sb.team_keys.values()))
    lines = [
        f"mailops sandbox (seed {sb.seed}, scale {sb.scale}, built in "
        f"{sb.world.build_seconds:.2f} s) serving on {sb.base_url}",
        f"  Cleanbox  {sb.cleanbox_url}",
        f"  EmBoux    {sb.emboux_url}",
        f"  Slack     {sb.slack_webhook_url}",
        f"  Control   {sb.control_url}  (POST /advance, /faults; GET /truth, /info)",
        f"  Clock     {sb.world.clock.now().isoformat()}",
        "  Cleanbox team keys:",
        *(f"    {name}: {key}" for name, key in list(sb.team_keys.items())[:limit]),
    ]
    if len(sb.team_keys) > limit:
        lines.append(f"    ... {len(sb.team_keys) - limit} more at {sb.control_url}/info")
    lines += [
        f"  EmBoux master token: {sb.master_token}",
        "  EmBoux customer tokens (partner_ref: token):",
        *(f"    {ref}: {tok}" for ref, tok in list(sb.customer_tokens.items())[:limit]),
        "",
        "  export MAILOPS_CLEANBOX_BASE_URL=" + sb.cleanbox_url,
        "  export MAILOPS_CLEANBOX_API_KEY=" + first_key,
        "  export MAILOPS_EMBOUX_BASE_URL=" + sb.emboux_url,
        "  export MAILOPS_EMBOUX_API_KEY=" + sb.master_token,
        "  export MAILOPS_SLACK_WEBHOOK_URL=" + sb.slack_webhook_url,
    ]
    return "\n".join(lines)


def serve(
    host: str = "127.0.0.1",
    port: int = 8750,
    seed: int = 7,
    scale: str = "small",
    *,
    big_team_contacts: int = 0,
    cleanbox_total: bool = True,
    out: Callable[[str], None] = print,
) -> None:
    """Serve the sandbox until interrupted, after printing its URLs and keys."""
    sb = Sandbox.start(seed, scale, cleanbox_total=cleanbox_total,
                       big_team_contacts=big_team_contacts, host=host, port=port)
    out(describe(sb))
    sb.wait()
