"""Assembly of the sandbox ASGI app: the simulators' routers behind the fault injector."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from sandbox import cleanbox, control, slack
from sandbox.faults import FaultInjector
from sandbox.world import World


@dataclass
class SandboxApp:
    """The served ASGI app (`asgi`, the fault injector around `api`) and its parts."""

    world: World
    api: FastAPI
    faults: FaultInjector
    slack: slack.SlackRecorder

    @property
    def asgi(self) -> FaultInjector:
        return self.faults


def create_app(world: World) -> SandboxApp:
    """Mount Cleanbox, EmBoux, the Slack stand-in and the control API on one app."""
    api = FastAPI(
        title="mailops sandbox",
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    recorder = slack.SlackRecorder(world.clock, world.slack_path.removeprefix("/slack/services/"))
    injector = FaultInjector(api, seed=world.seed, clock=world.clock)
    api.include_router(cleanbox.build_router(world), prefix="/cleanbox/v1")
    api.include_router(world.emboux.router(world.journal), prefix="/emboux")
    api.include_router(slack.build_router(recorder), prefix="/slack")
    api.include_router(control.build_router(world, injector, recorder), prefix="/_sandbox")
    return SandboxApp(world=world, api=api, faults=injector, slack=recorder)
