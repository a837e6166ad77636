"""The local PostgreSQL launcher: found where Debian puts it, served on 127.0.0.1 only, as
the `postgres` user under root, and stopped cleanly however often or after a crash."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import tempfile
from pathlib import Path

import psycopg
import pytest

from mailops.errors import LocalPostgresError
from sandbox import postgres
from sandbox.postgres import LocalPostgres, find_binaries


def setting(server: LocalPostgres, name: str) -> str:
    with psycopg.connect(host=server.host, port=server.port, user=server.user,
                         dbname="postgres") as conn:
        return conn.execute(f"SHOW {name}").fetchone()[0]


def test_the_session_server_is_tuned_for_tests_and_listens_on_localhost_only(local_postgres):
    assert [setting(local_postgres, name) for name in (
        "fsync", "synchronous_commit", "full_page_writes")] == ["off", "off", "off"]
    assert setting(local_postgres, "listen_addresses") == "127.0.0.1"
    assert setting(local_postgres, "unix_socket_directories") == str(local_postgres.socket_dir)
    hba = (local_postgres.data_dir / "pg_hba.conf").read_text()
    assert [line.split()[0:4] for line in hba.splitlines() if line.startswith("host")] == [
        ["host", "all", "all", "127.0.0.1/32"]]


def test_under_root_the_server_runs_as_the_postgres_user(local_postgres):
    if os.geteuid() != 0:
        pytest.skip("only root hands the server to the postgres user")
    pid = int((local_postgres.data_dir / "postmaster.pid").read_text().split()[0])
    owner = os.stat(f"/proc/{pid}").st_uid
    assert owner == pwd.getpwnam("postgres").pw_uid


def test_databases_are_created_on_demand_and_named_safely(local_postgres):
    url = local_postgres.create_database("on_demand")
    assert url == f"postgresql+psycopg://postgres@127.0.0.1:{local_postgres.port}/on_demand"
    assert local_postgres.url("prefect", driver="asyncpg").startswith("postgresql+asyncpg://")
    local_postgres.drop_database("on_demand")
    local_postgres.drop_database("on_demand")  # dropping what is gone is no error
    with pytest.raises(ValueError, match="lowercase letters"):
        local_postgres.create_database('x"; DROP DATABASE postgres; --')


def test_a_server_is_stopped_cleanly_twice_and_after_a_crash():
    # Given a server of its own, with durable settings and one more setting
    server = LocalPostgres.start(tuned_for_tests=False, settings={"max_connections": "40"})
    folder = server.folder
    assert server.running
    assert (setting(server, "fsync"), setting(server, "max_connections")) == ("on", "40")
    # When its postmaster is killed (a crash), then stop still ends and cleans up, twice
    pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    server.stop()
    server.stop()
    assert not server.running and not folder.exists()


def test_a_context_manager_stops_its_server_and_leaves_a_chosen_folder():
    parent = Path(tempfile.mkdtemp())
    parent.chmod(0o755)  # the postgres user must reach a chosen folder
    try:
        with LocalPostgres.start(parent / "pg") as server:
            assert setting(server, "port") == str(server.port)
        assert not server.running
        assert not (parent / "pg" / "data" / "postmaster.pid").exists()
        assert (parent / "pg" / "data").is_dir()  # a chosen folder is the caller's to remove
    finally:
        shutil.rmtree(parent)


def test_a_folder_the_postgres_user_cannot_reach_is_refused_in_words(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root hands the server to the postgres user")
    tmp_path.chmod(0o700)
    with pytest.raises(LocalPostgresError, match="cannot reach .* closed to other users"):
        LocalPostgres.start(tmp_path / "pg")


def test_without_postgresql_installed_the_error_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    monkeypatch.setattr(postgres, "DEBIAN_BINARIES", tmp_path / "none")
    with pytest.raises(LocalPostgresError, match="apt-get install postgresql"):
        LocalPostgres.start()


def test_the_newest_debian_version_is_chosen_when_none_is_on_path(monkeypatch, tmp_path):
    for version in ("9", "15", "13"):
        folder = tmp_path / version / "bin"
        folder.mkdir(parents=True)
        for name in postgres.SERVER_BINARIES:
            (folder / name).touch()
    (tmp_path / "16" / "bin").mkdir(parents=True)  # a client-only install: no server
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    monkeypatch.setattr(postgres, "DEBIAN_BINARIES", tmp_path)
    assert find_binaries() == tmp_path / "15" / "bin"
