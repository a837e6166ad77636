"""The monitoring dashboard: FastAPI with server-side Jinja2 templates over the store.

Three pages (health, trends, activity), each with its JSON twin under /api for the page's
own poll, Grafana or scripts. Read-only: nothing remote is called, and the only POSTs are the
login and the logout. With a token, every page and endpoint asks for it:

- scripts and scrapers (Prometheus-style) send `Authorization: Bearer <token>`;
- a browser gets the login page, whose form POSTs the token to `/login`; the answer sets an
  HttpOnly, SameSite=Strict cookie holding a digest of the token (never the token itself) and
  leads (303) to the page asked for; `POST /logout` clears it. The cookie is marked Secure
  when the request came over https (uvicorn serving TLS itself); behind a TLS proxy mailops
  sees http, since it trusts no X-Forwarded-Proto, and the proxy adds the flag;
- a token in a query string is refused (400, saying to use the form or the header), right or
  wrong, and never repeated: an address stays in browser history and proxy logs. The server
  writes no access log.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, model_validator
from starlette.middleware.base import RequestResponseEndpoint

from mailops import __version__, jobs
from mailops.dashboard import queries
from mailops.jsonable import to_jsonable
from mailops.report import html
from mailops.report.charts import Chart, daily_chart
from mailops.report.escape import visible_values
from mailops.report.numbers import number, signed
from mailops.rules.guard import Status
from mailops.settings import GuardSettings
from mailops.store import Store

HERE = Path(__file__).parent
COOKIE = "mailops_dashboard"
DEFAULT_REFRESH_SECONDS = 15
JobName = Literal[jobs.CHANGING_JOBS]  # the activity page's `job`, one of mailops.jobs' names
ACTIVITY_ROWS = 200
MOST_ACTIVITY_ROWS = 5000
METRIC_TITLES = {
    "usage_pct": "weekly quota used (%)", "weekly_used": "weekly messages",
    "quarantine_backlog": "quarantine backlog", "failed_24h": "failed (24 h)",
    "denied_24h": "denied (24 h)", "outbound_sent_today": "sent per day",
    "bounce_rate": "bounce rate", "complaint_rate": "complaint rate",
    "bounce_count": "bounces", "complaint_count": "complaints",
}
LOGIN_PATHS = ("/login", "/logout")
MAX_FORM_BYTES = 4096  # a token and a page address; anything larger is not our form
TOKEN_IN_ADDRESS = (
    "a token in the address is refused: addresses stay in browser history and proxy logs "
    "(change the token if that was the real one). Log in with the form below, which posts "
    "it, or send the header Authorization: Bearer <token>"
)
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


def _templates() -> Jinja2Templates:
    """The pages' templates in the one HTML environment (mailops.report.html: autoescape on,
    every expression shown with its invisible characters as markers), the shared chart
    macro behind them."""
    return Jinja2Templates(env=html.environment(HERE / "templates"))


def trend_chart(title: str, subjects: Sequence[queries.SubjectTrend], metric: str,
                start: date, end: date) -> Chart:
    """One metric of the trends page's subjects as the shared daily chart."""
    return daily_chart(title, [(subject.name, subject.series[metric]) for subject in subjects],
                       start, end)


def local_page(raw: str | None) -> str:
    """`raw` when it is a page of this dashboard (a path from its root), else "/": a login
    never leads to another site (`//host`, `/\\host`, a scheme, blanks a browser drops) nor
    back to the login."""
    if (not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw
            or any(c.isspace() or not c.isprintable() for c in raw)
            or raw.split("?", 1)[0] in LOGIN_PATHS):
        return "/"
    return raw


async def _form(request: Request) -> dict[str, str]:
    """The fields of a posted urlencoded form (the first value of each), at most
    MAX_FORM_BYTES; an empty dict for anything else."""
    if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    except ValueError:  # more fields than any form of ours has
        return {}
    return {name: values[0] for name, values in fields.items()}


def _when(value: datetime | None) -> str:
    """An instant as 'YYYY-MM-DD HH:MM' (UTC); empty for none."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _number(value: float | None) -> str:
    """The report's figure for people (mailops.report.numbers); empty for none."""
    return number(value, missing="")


def _signed(value: float | None) -> str:
    return signed(value, missing="")


class _Filters(BaseModel):
    """A page's query parameters, shared with its JSON twin; FastAPI validates them and a bad
    one is a 400 naming it (`refused`). A field the page's form sends empty (`?status=` for
    "any") counts as not given."""

    visible: bool = Field(False, description="the JSON as the page shows it: every string "
                          "with its invisible characters as markers (the page's own poll)")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_not_given(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {name: value for name, value in data.items() if value != ""}
        return data


class HealthFilters(_Filters):
    status: Status | None = Field(None, description="only groups and mailboxes in this status")
    q: str | None = Field(None, description="only groups and mailboxes whose name holds this")


class TrendsFilters(_Filters):
    start: date | None = Field(None, description="first day, YYYY-MM-DD (default: `days` "
                               "before `end`)")
    end: date | None = Field(None, description="last day, YYYY-MM-DD (default: the last "
                             "stored day)")
    days: int = Field(queries.DEFAULT_DAYS, ge=1, le=queries.MAX_DAYS,
                      description="how many days back from `end`, without `start`")
    q: str | None = Field(None, description="only teams and domains whose name holds this")


class ActivityFilters(_Filters):
    job: JobName | None = Field(None, description="only this job's changes and runs")
    limit: int = Field(ACTIVITY_ROWS, ge=1, le=MOST_ACTIVITY_ROWS,
                       description="at most this many rows of each table")


def refusal(error: RequestValidationError) -> str:
    """FastAPI's validation errors in one line, each naming its parameter: `days: input
    should be less than or equal to 366`."""
    return "; ".join(
        f"{problem['loc'][-1]}: {problem['msg'][:1].lower()}{problem['msg'][1:]}"
        for problem in error.errors()
    )


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
    templates.env.filters["signed"] = _signed
    templates.env.globals.update(version=__version__, refresh=refresh_seconds,
                                 statuses=[s.value for s in Status], jobs=jobs.CHANGING_JOBS,
                                 most_activity_rows=MOST_ACTIVITY_ROWS,
                                 metric_titles=METRIC_TITLES, login_required=bool(token))
    session = session_value(token) if token else None

    @app.exception_handler(RequestValidationError)
    async def refused(request: Request, error: RequestValidationError) -> Response:
        """A bad query parameter: the 400 the dashboard always answered, with one line
        naming the parameter, rather than FastAPI's 422 and its list of error objects."""
        return JSONResponse({"detail": refusal(error)}, status_code=400)

    @app.middleware("http")
    async def protect(request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if path.startswith("/static/"):
            return _secured(await call_next(request))
        if "token" in request.query_params:
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            return _denied(request, TOKEN_IN_ADDRESS, 400,
                           path + (f"?{urlencode(rest)}" if rest else ""))
        if token and session and path not in LOGIN_PATHS:
            header = request.headers.get("authorization", "")
            bearer = header[7:] if header[:7].lower() == "bearer " else None
            if not (_same(bearer, token) or _same(request.cookies.get(COOKIE), session)):
                query = request.url.query
                return _denied(request, "this dashboard asks for its token", 401,
                               path + (f"?{query}" if query else ""))
        return _secured(await call_next(request))

    def _denied(request: Request, why: str, status: int, asked: str) -> Response:
        """The refusal: JSON under /api (with the Bearer challenge on a 401), else the login
        form, which leads back to the page `asked` for."""
        if request.url.path.startswith("/api/"):
            challenge = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
            return _secured(JSONResponse({"ok": False, "error": why}, status_code=status,
                                         headers=challenge))
        return _secured(login_form(request, why, local_page(asked), status))

    def login_form(request: Request, why: str, next_page: str, status: int) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "login.html", {"why": why, "page": "login", "next": next_page},
            status_code=status)

    def _secured(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def as_asked(filters: _Filters, view: object) -> dict[str, Any]:
        """The view as JSON, its strings as stored; with `?visible=1` (the page's own poll)
        as the page shows them, with their invisible characters as markers."""
        data: dict[str, Any] = to_jsonable(view)
        return visible_values(data) if filters.visible else data

    def health_data(filters: HealthFilters) -> queries.HealthView:
        return queries.health(store, rules, filters.status, filters.q)

    def trends_data(filters: TrendsFilters) -> queries.TrendsView:
        return queries.trends(store, filters.start, filters.end, filters.days, filters.q)

    def activity_data(filters: ActivityFilters) -> queries.ActivityView:
        return queries.activity(store, filters.limit, filters.job)

    def page(request: Request, name: str, data: object, **extra: Any) -> HTMLResponse:
        query = request.url.query
        api = f"/api/{name}" + (f"?{query}" if query else "")
        poll = api + ("&" if query else "?") + "visible=1"
        return templates.TemplateResponse(
            request, f"{name}.html",
            {"page": name, "data": data, "api": api, "poll": poll, **extra},
        )

    @app.get("/login", response_class=HTMLResponse)
    def login_page(
        request: Request,
        asked: Annotated[str | None, Query(alias="next", description="the page to open "
                                           "after the login")] = None,
    ) -> Response:
        """The login form (pages asked for without the token show it too)."""
        next_page = local_page(asked)
        if not token:
            return RedirectResponse(next_page, status_code=303)
        return login_form(request, "this dashboard asks for its token", next_page, 200)

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        """The form's POST: with the right token, the session cookie and a 303 to the page
        asked for; with a wrong one, the form again (401) and no cookie."""
        form = await _form(request)
        next_page = local_page(form.get("next"))
        if not token or not session:
            return RedirectResponse(next_page, status_code=303)
        if not _same(form.get("token"), token):
            return login_form(request, "wrong token", next_page, 401)
        response = RedirectResponse(next_page, status_code=303)
        response.set_cookie(COOKIE, session, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
        return response

    @app.post("/logout")
    def logout(request: Request) -> Response:
        """Clear the session cookie and go back to the login form."""
        response = RedirectResponse("/login" if token else "/", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                               secure=request.url.scheme == "https")
        return response

    @app.get("/", response_class=HTMLResponse)
    def health_page(request: Request,
                    filters: Annotated[HealthFilters, Query()]) -> HTMLResponse:
        """Groups with their mailboxes, filtered by status and name."""
        return page(request, "health", health_data(filters))

    @app.get("/trends", response_class=HTMLResponse)
    def trends_page(request: Request,
                    filters: Annotated[TrendsFilters, Query()]) -> HTMLResponse:
        """Daily metrics per team and domain as charts, with week-over-week changes."""
        data = trends_data(filters)
        charts = {
            scope: [trend_chart(METRIC_TITLES.get(metric, metric), trends.subjects, metric,
                                data.range.start, data.range.end)
                    for metric in trends.metrics]
            for scope, trends in (("team", data.team), ("domain", data.domain))
        }
        return page(request, "trends", data, charts=charts)

    @app.get("/activity", response_class=HTMLResponse)
    def activity_page(request: Request,
                      filters: Annotated[ActivityFilters, Query()]) -> HTMLResponse:
        """The audit table and the once-only runs, newest first."""
        return page(request, "activity", activity_data(filters))

    @app.get("/api/health")
    def health_api(filters: Annotated[HealthFilters, Query()]) -> dict[str, Any]:
        return as_asked(filters, health_data(filters))

    @app.get("/api/trends")
    def trends_api(filters: Annotated[TrendsFilters, Query()]) -> dict[str, Any]:
        return as_asked(filters, trends_data(filters))

    @app.get("/api/activity")
    def activity_api(filters: Annotated[ActivityFilters, Query()]) -> dict[str, Any]:
        return as_asked(filters, activity_data(filters))

    @app.get("/api/ping")
    def ping() -> dict[str, Any]:
        return {"ok": True, "version": __version__}

    return app
