"""The monitoring dashboard: FastAPI with server-side Jinja2 templates over the store.

Three pages (health, trends, activity), each with its JSON twin under /api for the page's
own poll, Grafana or scripts. Read-only: GET routes only, nothing remote is called. With a
token, every page and endpoint asks for it: `Authorization: Bearer`, or `?token=` once,
which sets an HttpOnly cookie holding a digest of it (never the token itself).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from starlette.middleware.base import RequestResponseEndpoint

from mailops import __version__
from mailops.dashboard import queries
from mailops.dashboard.charts import line_chart
from mailops.report.escape import html_text, visible_values
from mailops.rules.health import Status
from mailops.settings import GuardSettings
from mailops.store import Store

HERE = Path(__file__).parent
COOKIE = "mailops_dashboard"
DEFAULT_REFRESH_SECONDS = 15
JOBS = ("contact-cleanup", "contact-undo", "quarantine-accept", "outbound-guard",
        "outbound-reset-daily", "billing-freeze")
METRIC_TITLES = {
    "usage_pct": "weekly quota used (%)", "weekly_used": "weekly messages",
    "quarantine_backlog": "quarantine backlog", "failed_24h": "failed (24 h)",
    "denied_24h": "denied (24 h)", "outbound_sent_today": "sent per day",
    "bounce_rate": "bounce rate", "complaint_rate": "complaint rate",
    "bounce_count": "bounces", "complaint_count": "complaints",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def session_value(token: str) -> str:
    """What the cookie holds: a digest of the token, so the cookie never is the token."""
    return hmac.new(token.encode(), b"mailops-dashboard-session", hashlib.sha256).hexdigest()


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def shown(value: object) -> Markup:
    """Every `{{ ... }}` of the templates (Jinja2's finalize): escaped by the escaper the weekly
    report uses, so invisible characters show as their markers too; autoescape alone would
    let a U+202E through. A macro's or a filter's Markup is already shown and passes as is."""
    return value if isinstance(value, Markup) else Markup(html_text(value))


def _templates() -> Jinja2Templates:
    """The pages' templates: autoescape on, and every expression through `shown`."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=True, finalize=shown)
    return Jinja2Templates(env=env)


def _when(value: str | None) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM' (UTC); empty for none."""
    if not value:
        return ""
    return value[:16].replace("T", " ")


def _number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:,.0f}"


def _day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be a date YYYY-MM-DD") from None


def _status(raw: str | None) -> str | None:
    if not raw:
        return None
    if raw not in {s.value for s in Status}:
        raise HTTPException(400, f"status must be one of {', '.join(s.value for s in Status)}")
    return raw


def _positive(raw: str | None, name: str, default: int, most: int) -> int:
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be a whole number") from None
    return min(max(value, 1), most)


def create_app(
    store: Store,
    *,
    rules: GuardSettings | None = None,
    token: str | None = None,
    refresh_seconds: int = DEFAULT_REFRESH_SECONDS,
) -> FastAPI:
    """The dashboard over `store`; with `token`, every request but static files needs it."""
    rules = rules or GuardSettings()
    app = FastAPI(title="mailops dashboard", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = _templates()
    templates.env.filters["when"] = _when
    templates.env.filters["number"] = _number
    templates.env.globals.update(version=__version__, refresh=refresh_seconds,
                                 statuses=[s.value for s in Status], jobs=JOBS,
                                 metric_titles=METRIC_TITLES)
    session = session_value(token) if token else None

    @app.middleware("http")
    async def protect(request: Request, call_next: RequestResponseEndpoint) -> Response:
        if token and session and not request.url.path.startswith("/static/"):
            offered = request.query_params.get("token")
            if offered is not None:
                if not _same(offered, token):
                    return _denied(request, "wrong token")
                rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
                response: Response = RedirectResponse(target, status_code=303)
                response.set_cookie(COOKIE, session, httponly=True, samesite="strict",
                                    path="/")
                return _secured(response)
            header = request.headers.get("authorization", "")
            bearer = header[7:] if header[:7].lower() == "bearer " else None
            if not (_same(bearer, token) or _same(request.cookies.get(COOKIE), session)):
                return _denied(request, "this dashboard asks for its token")
        return _secured(await call_next(request))

    def _denied(request: Request, why: str) -> Response:
        if request.url.path.startswith("/api/"):
            return _secured(JSONResponse({"ok": False, "error": why}, status_code=401,
                                         headers={"WWW-Authenticate": "Bearer"}))
        page = templates.TemplateResponse(request, "login.html", {"why": why, "page": "login"},
                                          status_code=401)
        return _secured(page)

    def _secured(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def as_asked(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        """The JSON as stored; with `?visible=1` (the page's own poll) as the page shows it,
        every string with its invisible characters as markers."""
        return visible_values(data) if request.query_params.get("visible") else data

    def health_data(request: Request) -> dict[str, Any]:
        params = request.query_params
        return queries.health(store, rules, _status(params.get("status")), params.get("q"))

    def trends_data(request: Request) -> dict[str, Any]:
        params = request.query_params
        return queries.trends(
            store, _day(params.get("start"), "start"), _day(params.get("end"), "end"),
            _positive(params.get("days"), "days", queries.DEFAULT_DAYS, queries.MAX_DAYS),
            params.get("q"),
        )

    def activity_data(request: Request) -> dict[str, Any]:
        params = request.query_params
        job = params.get("job") or None
        if job is not None and job not in JOBS:
            raise HTTPException(400, f"job must be one of {', '.join(JOBS)}")
        return queries.activity(store, _positive(params.get("limit"), "limit", 200, 5000), job)

    def page(request: Request, name: str, data: dict[str, Any], **extra: Any) -> HTMLResponse:
        query = request.url.query
        api = f"/api/{name}" + (f"?{query}" if query else "")
        poll = api + ("&" if query else "?") + "visible=1"
        return templates.TemplateResponse(
            request, f"{name}.html",
            {"page": name, "data": data, "api": api, "poll": poll, **extra},
        )

    @app.get("/", response_class=HTMLResponse)
    def health_page(request: Request) -> HTMLResponse:
        """Groups with their mailboxes, filtered by status and name."""
        return page(request, "health", health_data(request))

    @app.get("/trends", response_class=HTMLResponse)
    def trends_page(request: Request) -> HTMLResponse:
        """Daily metrics per team and domain as charts, with week-over-week changes."""
        data = trends_data(request)
        start = date.fromisoformat(data["range"]["start"])
        end = date.fromisoformat(data["range"]["end"])
        charts = {
            scope: [line_chart(METRIC_TITLES.get(metric, metric), data[scope]["subjects"],
                               metric, start, end)
                    for metric in data[scope]["metrics"]]
            for scope in ("team", "domain")
        }
        return page(request, "trends", data, charts=charts)

    @app.get("/activity", response_class=HTMLResponse)
    def activity_page(request: Request) -> HTMLResponse:
        """The audit table and the once-only runs, newest first."""
        return page(request, "activity", activity_data(request))

    @app.get("/api/health")
    def health_api(request: Request) -> dict[str, Any]:
        return as_asked(request, health_data(request))

    @app.get("/api/trends")
    def trends_api(request: Request) -> dict[str, Any]:
        return as_asked(request, trends_data(request))

    @app.get("/api/activity")
    def activity_api(request: Request) -> dict[str, Any]:
        return as_asked(request, activity_data(request))

    @app.get("/api/ping")
    def ping() -> dict[str, Any]:
        return {"ok": True, "version": __version__}

    return app
