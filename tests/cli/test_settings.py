"""Configuration: the contract's variables, mailops.toml, and one clear line when it is bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailops.errors import ConfigError
from mailops.settings import checked_base_url, cleanbox_teams, load_settings


def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "mailops.toml"
    path.write_text(text)
    monkeypatch.setenv("MAILOPS_CONFIG", str(path))
    return path


def test_defaults_follow_the_interface_contract():
    settings = load_settings()
    assert settings.database_url == "sqlite:///data/mailops.db"
    assert settings.cleanbox_base_url == "https://api.cleanbox.app/v1"
    assert settings.emboux_base_url == "https://api.emboux.com"
    assert settings.timezone == "UTC"
    assert settings.cleanbox_api_key is None and settings.slack_webhook_url is None
    assert settings.alerts.weekly_usage_pct == 80
    assert settings.contacts.block_threshold == 50


def test_environment_variables_override_the_file(tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, 'timezone = "Europe/Berlin"\n[http]\nread_timeout = 9\n')
    monkeypatch.setenv("MAILOPS_TIMEZONE", "America/New_York")
    settings = load_settings()
    assert settings.timezone == "America/New_York"
    assert settings.http.read_timeout == 9


def test_nested_settings_can_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MAILOPS_CLEANBOX_LIMITS__CONCURRENCY", "32")
    assert load_settings().cleanbox_limits.concurrency == 32


def test_the_shards_of_a_fanout_share_each_apis_rate_limit(monkeypatch):
    # Given 20 requests a second allowed for Cleanbox, and no limit for EmBoux
    monkeypatch.setenv("MAILOPS_CLEANBOX_LIMITS__RATE_LIMIT_PER_SECOND", "20")
    monkeypatch.setenv("MAILOPS_EMBOUX_LIMITS__RATE_LIMIT_PER_SECOND", "0")
    settings = load_settings()
    # When four shards run at once
    share = settings.shared_by(4)
    # Then each starts at most a quarter of the requests; concurrency and "no limit" stay
    assert share.cleanbox_limits.rate_limit_per_second == 5
    assert share.emboux_limits.rate_limit_per_second == 0
    assert share.cleanbox_limits.concurrency == settings.cleanbox_limits.concurrency
    assert settings.shared_by(1) is settings


def test_several_teams_take_their_keys_from_named_variables(tmp_path, monkeypatch):
    write_config(
        tmp_path,
        monkeypatch,
        '[[teams]]\nname = "acme"\napi_key_env = "ACME_KEY"\n'
        '[[teams]]\nname = "globex"\napi_key_env = "GLOBEX_KEY"\n',
    )
    monkeypatch.setenv("ACME_KEY", "acme-key-0001")
    monkeypatch.setenv("GLOBEX_KEY", "globex-key-0002")
    teams = cleanbox_teams(load_settings())
    assert [(t.name, t.api_key.get_secret_value()) for t in teams] == [
        ("acme", "acme-key-0001"),
        ("globex", "globex-key-0002"),
    ]


def test_one_key_in_the_environment_is_one_default_team(monkeypatch):
    monkeypatch.setenv("MAILOPS_CLEANBOX_API_KEY", "single-team-key")
    assert [t.name for t in cleanbox_teams(load_settings())] == ["default"]


def test_a_team_key_in_a_prefect_secret_block_is_read_through_the_loader(tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, '[[teams]]\nname = "acme"\napi_key_secret = "acme-key"\n')
    settings = load_settings()
    with pytest.raises(ConfigError, match="Prefect Secret block 'acme-key'"):
        cleanbox_teams(settings)
    teams = cleanbox_teams(settings, load_secret=lambda name: f"value-of-{name}")
    assert teams[0].api_key.get_secret_value() == "value-of-acme-key"


def test_a_missing_team_key_names_the_team_and_the_variable(tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, '[[teams]]\nname = "acme"\napi_key_env = "ACME_KEY"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "the key of team 'acme' is missing: environment variable ACME_KEY is not set" in str(
        caught.value
    )


def test_a_team_with_two_key_sources_is_refused(tmp_path, monkeypatch):
    write_config(
        tmp_path,
        monkeypatch,
        '[[teams]]\nname = "acme"\napi_key_env = "A"\napi_key_secret = "b"\n',
    )
    with pytest.raises(ConfigError, match="exactly one of api_key_env"):
        load_settings()


def test_a_team_listed_twice_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("K", "some-key-123")
    write_config(
        tmp_path,
        monkeypatch,
        '[[teams]]\nname = "acme"\napi_key_env = "K"\n' * 2,
    )
    with pytest.raises(ConfigError, match="team 'acme' is listed twice"):
        load_settings()


def test_an_unknown_key_in_the_file_is_named(tmp_path, monkeypatch):
    path = write_config(tmp_path, monkeypatch, "[alerts]\nweekly_usage_percent = 90\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == f"unknown setting 'alerts.weekly_usage_percent' in {path}"


def test_a_misspelled_variable_is_named_with_a_suggestion(monkeypatch):
    monkeypatch.setenv("MAILOPS_DATABSE_URL", "sqlite:///x.db")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        "unknown setting MAILOPS_DATABSE_URL (did you mean MAILOPS_DATABASE_URL?)"
    )


def test_a_threshold_out_of_range_names_the_setting(tmp_path, monkeypatch):
    path = write_config(tmp_path, monkeypatch, "[alerts]\nweekly_usage_pct = 150\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        f"'alerts.weekly_usage_pct' in {path}: Input should be less than or equal to 100"
    )


def test_a_bad_variable_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("MAILOPS_HTTP__READ_TIMEOUT", "-1")
    with pytest.raises(ConfigError, match="^MAILOPS_HTTP__READ_TIMEOUT: Input should be greater"):
        load_settings()


def test_an_unknown_time_zone_is_refused(monkeypatch):
    monkeypatch.setenv("MAILOPS_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError, match="'Mars/Olympus' is not an IANA time zone"):
        load_settings()


def test_a_base_url_must_be_http(monkeypatch):
    monkeypatch.setenv("MAILOPS_EMBOUX_BASE_URL", "ftp://emboux")
    with pytest.raises(ConfigError, match="MAILOPS_EMBOUX_BASE_URL: 'ftp://emboux' is not an"):
        load_settings()


def test_a_junk_tld_that_is_not_a_tld_is_refused(tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, '[contacts]\njunk_tlds = ["example.com"]\n')
    with pytest.raises(ConfigError, match="'example.com' is not a top-level domain"):
        load_settings()


def test_junk_tlds_are_normalised(tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, '[contacts]\njunk_tlds = ["XYZ", ".Top."]\n')
    assert load_settings().contacts.junk_tlds == [".xyz", ".top"]


def test_invalid_toml_is_one_line(tmp_path, monkeypatch):
    path = write_config(tmp_path, monkeypatch, "[http\nread_timeout = 1\n")
    with pytest.raises(ConfigError, match=f"^{path} is not valid TOML"):
        load_settings()


def test_a_config_path_that_does_not_exist_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILOPS_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="MAILOPS_CONFIG points to .*missing.toml"):
        load_settings()


def test_several_problems_report_the_first_and_how_many_more(tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, "[http]\nread_timeout = 0\nmax_attempts = 0\n")
    with pytest.raises(ConfigError, match=r"\(and 1 more\)$"):
        load_settings()


@pytest.mark.parametrize(("url", "said"), [
    ("http://127.0.0.1:abc", "invalid port"),
    ("http://127.0.0.1:99999/v1", "invalid port"),
    ("ftp://files.example", "is not an http"),
])
def test_a_base_url_that_cannot_be_used_is_a_configuration_error(url, said):
    with pytest.raises(ValueError, match=said):
        checked_base_url(url)


def test_credentials_in_a_base_url_are_refused_without_being_repeated():
    with pytest.raises(ValueError) as caught:
        checked_base_url("http://admin:S3CRET-PASSWORD@api.example/v1")
    assert "user name or password" in str(caught.value)
    assert "S3CRET" not in str(caught.value) and "admin" not in str(caught.value)
