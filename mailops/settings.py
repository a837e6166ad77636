"""Configuration: environment variables (`MAILOPS_` prefix) over an optional `mailops.toml`.

The environment holds the interface contract (URLs, keys, database, time zone: the README's
Configuration table); the TOML file, named by `MAILOPS_CONFIG`, adds what does not fit in a
variable: several Cleanbox teams, thresholds and rules. Environment beats file, file beats defaults.
Bad configuration raises `ConfigError` with one line naming the setting.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from mailops.errors import ConfigError
from mailops.secrets import register_secret

ENV_PREFIX = "MAILOPS_"
CONFIG_ENV = "MAILOPS_CONFIG"
_NESTED = "__"
_TEAM_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpSettings(_Section):
    """Timeouts and the retry policy shared by both API clients."""

    connect_timeout: float = Field(5.0, gt=0, le=120, description="seconds to open a connection")
    read_timeout: float = Field(30.0, gt=0, le=600, description="seconds to wait for an answer")
    max_attempts: int = Field(5, ge=1, le=20, description="tries per request, the first included")
    retry_budget_seconds: float = Field(
        60.0, gt=0, le=3600, description="cap on the total time spent waiting between retries"
    )
    backoff_base_seconds: float = Field(0.5, gt=0, le=60)
    backoff_max_seconds: float = Field(20.0, gt=0, le=600)


class ApiLimits(_Section):
    """Client-side bounds for one API, shared by every team or token using it."""

    concurrency: int = Field(10, ge=1, le=1000, description="requests in flight at once")
    rate_limit_per_second: float = Field(
        20.0, ge=0, le=100_000, description="requests started per second; 0 means no limit"
    )


class TeamConfig(_Section):
    """One Cleanbox team and where its key comes from: an environment variable or a
    Prefect Secret block (resolved by the tasks layer, which may import Prefect)."""

    name: str
    api_key_env: str | None = None
    api_key_secret: str | None = None

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        value = value.strip()
        if not _TEAM_NAME.match(value):
            raise ValueError("a team name is 1 to 100 printable characters")
        return value

    @model_validator(mode="after")
    def _exactly_one_key_source(self) -> Self:
        if (self.api_key_env is None) == (self.api_key_secret is None):
            raise ValueError(
                f"team {self.name!r} needs exactly one of api_key_env (an environment "
                "variable name) or api_key_secret (a Prefect Secret block name)"
            )
        if self.api_key_env is not None and not os.environ.get(self.api_key_env):
            raise ValueError(
                f"the key of team {self.name!r} is missing: environment variable "
                f"{self.api_key_env} is not set"
            )
        return self


TEAM_TREND_METRICS = ("weekly_used", "quarantine_backlog", "failed_24h", "denied_24h")
DOMAIN_TREND_METRICS = ("outbound_sent_today", "bounce_rate", "complaint_rate")


class _SuspensionThresholds(_Section):
    """EmBoux's suspension thresholds (docs/emboux-api.md), which the daily-health alerts
    warn before and the weekly report's forecasts look for, each in its own section."""

    bounce_rate_suspension_pct: float = Field(
        0.5, gt=0, le=100, description="EmBoux's BOUNCE_RATE_THRESHOLD, in percent"
    )
    complaint_rate_suspension_pct: float = Field(
        0.1, gt=0, le=100, description="EmBoux's COMPLAINT_RATE_THRESHOLD, in percent"
    )


class AlertThresholds(_SuspensionThresholds):
    """Thresholds of the daily-health alerts: the monitoring guide's four
    (docs/cleanbox-api.md#monitoring-guide), EmBoux's (docs/emboux-api.md), and trends."""

    weekly_usage_pct: float = Field(80.0, gt=0, le=100)
    quarantine_backlog: int = Field(10, ge=0)
    failed_messages: int = Field(5, ge=0)
    unset_sender_emails: int = Field(50, ge=1)
    top_senders: int = Field(5, ge=1, le=100, description="top senders collected per team")
    suspension_warning_fraction: float = Field(
        0.7, gt=0, le=1, description="warn at this share of a suspension threshold"
    )
    daily_limit_pct: float = Field(80.0, gt=0, le=100)
    spike_multiplier: float = Field(
        4.0, gt=1, description="warn when today's sends pass this many times the 7-day average"
    )
    spike_history_days: int = Field(7, ge=1, le=60)

    trend_growth_pct: float = Field(
        50.0, gt=0, description="warn when a metric's weekly mean grew by more than this"
    )
    trend_min_days: int = Field(4, ge=1, le=7, description="days of data each week needs")
    trend_team_metrics: list[str] = Field(
        default_factory=lambda: ["quarantine_backlog", "failed_24h", "denied_24h"]
    )
    trend_domain_metrics: list[str] = Field(
        default_factory=lambda: ["bounce_rate", "complaint_rate"]
    )

    @field_validator("trend_team_metrics")
    @classmethod
    def _known_team_metrics(cls, values: list[str]) -> list[str]:
        return _known_metrics(values, TEAM_TREND_METRICS)

    @field_validator("trend_domain_metrics")
    @classmethod
    def _known_domain_metrics(cls, values: list[str]) -> list[str]:
        return _known_metrics(values, DOMAIN_TREND_METRICS)


def _known_metrics(values: list[str], known: tuple[str, ...]) -> list[str]:
    for value in values:
        if value not in known:
            raise ValueError(f"{value!r} is not a trend metric; choose from {', '.join(known)}")
    return values


class ContactRules(_Section):
    """Cleanbox's contact-bot rules (docs/cleanbox-api.md#contact-rules)."""

    junk_tlds: list[str] = Field(
        default_factory=lambda: [
            ".xyz", ".top", ".click", ".buzz", ".icu", ".club", ".loan", ".work"
        ]
    )
    block_threshold: int = Field(50, ge=1)
    whitelist_threshold: int = Field(10, ge=1)
    trusted_categories: list[str] = Field(
        default_factory=lambda: ["Finance", "Business Services", "Productivity & Tools"]
    )
    keep_categories_with_subscriptions: list[str] = Field(default_factory=lambda: ["Shopping"])
    mute_categories: list[str] = Field(default_factory=list)
    min_age_days: int = Field(7, ge=0)
    max_actions_per_run: int = Field(100, ge=1)
    per_page: int = Field(100, ge=1, le=100, description="contacts read per request")
    # The contact-bot guide's "combine with messages data" (docs/cleanbox-api.md#contact-rules):
    # a high-volume sender whose recent messages all score below `low_spam_score` (0-10) is
    # kept, not blocked. Off by default: it costs one request per high-volume contact.
    spam_score_check: bool = False
    spam_score_days: int = Field(30, ge=1)
    low_spam_score: float = Field(3.0, ge=0, le=10)
    spam_score_min_messages: int = Field(3, ge=1)

    @field_validator("junk_tlds")
    @classmethod
    def _tlds_are_normalised(cls, values: list[str]) -> list[str]:
        normalised = []
        for raw in values:
            tld = raw.strip().lower().strip(".")
            if not tld or "." in tld:
                raise ValueError(f"{raw!r} is not a top-level domain such as '.xyz'")
            normalised.append(f".{tld}")
        return normalised


class QuarantineRules(_Section):
    """quarantine-accept: the monitoring guide's auto-remediation of the quarantine backlog
    (docs/cleanbox-api.md#monitoring-guide)."""

    threshold: int = Field(
        10, ge=0, description="act only when the backlog exceeds this many messages"
    )
    max_spam_score: float | None = Field(
        None, ge=0, description="keep messages scoring at least this, even when whitelisted"
    )
    max_actions_per_run: int = Field(500, ge=1)


class ReportSettings(_SuspensionThresholds):
    """weekly-report: drift detection, forecast thresholds and the minimum volume to forecast."""

    history_weeks: int = Field(8, ge=2, le=52, description="weeks loaded for drifts and charts")
    drift_min_weeks: int = Field(
        4, ge=2, le=51, description="consecutive weekly moves in one direction that make a drift"
    )
    forecast_days: int = Field(
        14, ge=3, le=90, description="days of daily history a domain's forecast is fitted on"
    )
    forecast_weeks: int = Field(
        4, ge=2, le=52, description="weeks of history a team's quota forecast is fitted on"
    )
    horizon_days: int = Field(28, ge=1, description="forecasts further away are not shown")
    alert_within_days: int = Field(14, ge=1, description="alert on crossings this close")
    min_volume: int = Field(
        100, ge=0, description="sends (domains) or weekly usage (teams) below which nothing "
        "is forecast",
    )
    quota_pct: float = Field(100.0, gt=0, le=100, description="share of the weekly quota")
    daily_limit_pct: float = Field(100.0, gt=0, le=100, description="share of the daily limit")
    top_movers: int = Field(10, ge=1, le=100)
    artifact_rows: int = Field(
        10, ge=1, le=200,
        description="rows of each table in the Prefect artifact; the file holds every row",
    )


class GuardSettings(_Section):
    """outbound-guard: the bounce monitor over EmBoux sending domains (docs/outbound-guard.md;
    the defaults are the design's)."""

    min_volume: int = Field(60, ge=1, description="sends before the percentage trigger applies")
    bounce_rate_pct: float = Field(3.0, gt=0, le=100, description="percentage trigger")
    absolute_bounces: int = Field(5, ge=1, description="bounces in the window that pause")
    warning_bounces: int = Field(3, ge=1, description="early warning within min_volume sends")
    window_size: int = Field(100, ge=2, description="sends at which the window slides")
    keep_fraction: float = Field(0.5, gt=0, lt=1, description="share kept by a slide")
    cooldown_hours: float = Field(24.0, ge=0, description="how long a pause lasts at least")
    healing_clean_sends: int = Field(60, ge=1, description="clean sends that end healing")
    group_warning_pct: float = Field(30.0, gt=0, le=100)
    group_pause_pct: float = Field(50.0, gt=0, le=100)
    group_min_mailboxes: int = Field(
        3, ge=1, description="smaller groups are never paused by their ratio"
    )
    group_by: Literal["partner_ref", "parent_domain"] = "partner_ref"
    max_actions_per_run: int = Field(100, ge=1)

    @model_validator(mode="after")
    def _tiers_in_order(self) -> Self:
        if self.warning_bounces > self.absolute_bounces:
            raise ValueError("warning_bounces must not exceed absolute_bounces")
        if self.group_warning_pct > self.group_pause_pct:
            raise ValueError("group_warning_pct must not exceed group_pause_pct")
        return self


class ApprovalSettings(_Section):
    """Approval in the Prefect UI before a gated job applies its plan.

    Under a deployment (a scheduled run, the UI's Run button) an apply always waits for it,
    whatever is set here; these settings can only ask for it in more places.
    """

    always: bool = Field(
        False, description="ask in the Prefect UI before every apply, a command line's "
        "`--apply` too (otherwise that is the approval of the person typing it)",
    )
    timeout_seconds: int = Field(
        3600, ge=1, description="no answer within this many seconds means no change"
    )
    poll_seconds: float = Field(10.0, gt=0, le=600, description="how often the answer is read")


class FanoutSettings(_Section):
    """daily-health-fanout: how long and how often it waits for its shards."""

    shard_timeout_seconds: int = Field(
        4 * 3600, ge=1, description="a shard not finished by then is named as missing"
    )
    poll_seconds: float = Field(5.0, gt=0, le=600, description="how often shard states are read")


def checked_base_url(value: str) -> str:
    """An API root as an http(s) URL with a host and a valid port, or a ValueError saying
    what is wrong. Credentials in the URL are refused without repeating them: they would
    replace the Bearer key and be shown wherever the URL is (logs, errors, Prefect's state)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port  # ValueError for a port that is not a number in 0..65535
    except ValueError:
        raise ValueError(f"{_shown(value)!r} has an invalid port (a number 1 to 65535)") from None
    if parts.username is not None or parts.password is not None:
        raise ValueError("a base URL must not carry a user name or password (user:password@); "
                         "the key goes in the API key setting")
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", value):
        raise ValueError(f"{_shown(value)!r} is not an http(s) URL")
    if port == 0:
        raise ValueError(f"{_shown(value)!r} has an invalid port (a number 1 to 65535)")
    return value.strip().rstrip("/")


def _shown(url: str) -> str:
    """A URL fit for an error message: anything before an @ in its authority masked."""
    return re.sub(r"(?<=://)[^/@]*@", "***@", url)


class Settings(BaseSettings):
    """Everything mailops reads from its environment and configuration file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=_NESTED,
        extra="forbid",
        frozen=True,
    )

    database_url: str = "sqlite:///data/mailops.db"
    cleanbox_base_url: str = "https://api.cleanbox.app/v1"
    cleanbox_api_key: SecretStr | None = None
    emboux_base_url: str = "https://api.emboux.com"
    emboux_api_key: SecretStr | None = None
    slack_webhook_url: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_channel: str | None = None
    dashboard_token: SecretStr | None = None
    timezone: str = "UTC"
    data_dir: str = "data"
    # How a hand run (`mailops <job>`) reaches Prefect when PREFECT_API_URL is not set: the
    # local server it keeps running under the data folder, Prefect's temporary server for
    # each run, or neither (PREFECT_API_URL is then required).
    prefect_server: Literal["local", "temporary", "none"] = "local"

    teams: list[TeamConfig] = Field(default_factory=list)
    http: HttpSettings = Field(default_factory=HttpSettings)
    cleanbox_limits: ApiLimits = Field(default_factory=ApiLimits)
    emboux_limits: ApiLimits = Field(default_factory=ApiLimits)
    alerts: AlertThresholds = Field(default_factory=AlertThresholds)
    contacts: ContactRules = Field(default_factory=ContactRules)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    quarantine: QuarantineRules = Field(default_factory=QuarantineRules)
    report: ReportSettings = Field(default_factory=ReportSettings)
    approval: ApprovalSettings = Field(default_factory=ApprovalSettings)
    fanout: FanoutSettings = Field(default_factory=FanoutSettings)

    @field_validator("cleanbox_base_url", "emboux_base_url")
    @classmethod
    def _is_http_url(cls, value: str) -> str:
        return checked_base_url(value)

    @field_validator("timezone")
    @classmethod
    def _is_iana_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone such as 'Europe/Berlin'"
            ) from None
        return value

    @field_validator("teams")
    @classmethod
    def _team_names_unique(cls, teams: list[TeamConfig]) -> list[TeamConfig]:
        seen: set[str] = set()
        for team in teams:
            if team.name in seen:
                raise ValueError(f"team {team.name!r} is listed twice")
            seen.add(team.name)
        return teams

    @model_validator(mode="after")
    def _register_secrets(self) -> Self:
        for secret in (
            self.cleanbox_api_key,
            self.emboux_api_key,
            self.slack_webhook_url,
            self.slack_bot_token,
            self.dashboard_token,
        ):
            if secret is not None:
                register_secret(secret.get_secret_value())
        return self

    def shared_by(self, runs: int) -> Settings:
        """These settings for one of `runs` runs at once (a fan-out's shards): each takes
        its share of every API's rate limit, so that together they stay within it."""
        if runs <= 1:
            return self

        def share(limits: ApiLimits) -> ApiLimits:
            return limits.model_copy(
                update={"rate_limit_per_second": limits.rate_limit_per_second / runs}
            )

        return self.model_copy(update={"cleanbox_limits": share(self.cleanbox_limits),
                                       "emboux_limits": share(self.emboux_limits)})

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_path = os.environ.get(CONFIG_ENV)
        if config_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_path)))
        return tuple(sources)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class TeamCredential:
    """A Cleanbox team with its key resolved."""

    name: str
    api_key: SecretStr


def cleanbox_teams(
    settings: Settings, load_secret: Callable[[str], str] | None = None
) -> list[TeamCredential]:
    """The configured Cleanbox teams with their keys.

    Teams listed in the file win; with none listed, `MAILOPS_CLEANBOX_API_KEY` is one team
    named "default". `load_secret` reads a Prefect Secret block by name (the tasks layer
    passes it, since this library does not import Prefect).
    """
    if not settings.teams:
        if settings.cleanbox_api_key is None:
            return []
        return [TeamCredential("default", settings.cleanbox_api_key)]
    resolved = []
    for team in settings.teams:
        if team.api_key_env is not None:
            value = os.environ.get(team.api_key_env, "")
            if not value:
                raise ConfigError(
                    f"the key of team {team.name!r} is missing: environment variable "
                    f"{team.api_key_env} is not set"
                )
        else:
            assert team.api_key_secret is not None
            if load_secret is None:
                raise ConfigError(
                    f"team {team.name!r} keeps its key in the Prefect Secret block "
                    f"{team.api_key_secret!r}, which can only be read inside a flow"
                )
            value = load_secret(team.api_key_secret)
        register_secret(value)
        resolved.append(TeamCredential(team.name, SecretStr(value)))
    return resolved


def load_settings(**overrides: Any) -> Settings:
    """Read the configuration, or raise `ConfigError` with one line naming what is wrong."""
    _reject_unknown_variables(os.environ)
    config_path = os.environ.get(CONFIG_ENV)
    if config_path:
        _check_config_file(Path(config_path))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, os.environ)) from None


def _check_config_file(path: Path) -> None:
    if not path.is_file():
        raise ConfigError(f"{CONFIG_ENV} points to {path}, which is not a file")
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _known_variables() -> set[str]:
    names = {CONFIG_ENV}
    for field_name, field in Settings.model_fields.items():
        names.add(f"{ENV_PREFIX}{field_name}".upper())
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, _Section):
            for sub in annotation.model_fields:
                names.add(f"{ENV_PREFIX}{field_name}{_NESTED}{sub}".upper())
    return names


def _reject_unknown_variables(env: Mapping[str, str]) -> None:
    known = _known_variables()
    for name in env:
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"unknown setting {name}{hint}")


def _describe(exc: ValidationError, env: Mapping[str, str]) -> str:
    """One line per the first problem, naming the variable or file key, plus how many more."""
    problems = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"])
        variable = f"{ENV_PREFIX}{path.replace('.', _NESTED)}".upper()
        where = variable if variable in env else f"{path!r} in {env.get(CONFIG_ENV, 'settings')}"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown setting {where}")
        else:
            problems.append(f"{where}: {message}")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{problems[0]}{more}"
