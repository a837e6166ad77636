"""The store on SQLite and PostgreSQL, for every area that keeps rows: store tests take
`any_store` (migrated) or `store_url` (empty, tests/store/) and run once on a SQLite file and
once on a database of their own in one PostgreSQL server started for the session."""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailops.store import Store
from sandbox.postgres import LocalPostgres


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store in a temporary folder."""
    store = Store(f"sqlite:///{tmp_path / 'mailops.db'}")
    store.upgrade()
    yield store
    store.close()


STORE_BACKENDS = ("sqlite", "postgresql")


POSTGRES_TEMPLATE = "mailops_migrated"


_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def local_postgres() -> Iterator[LocalPostgres]:
    """One PostgreSQL server for the session: initdb in a temporary folder, 127.0.0.1 on a
    free port, stopped (and its folder removed) at the end."""
    with LocalPostgres.start() as server:
        yield server


@pytest.fixture(scope="session")
def migrated_postgres(local_postgres: LocalPostgres) -> str:
    """A database migrated to the newest schema, copied for each test (faster than migrating)."""
    with Store(local_postgres.create_database(POSTGRES_TEMPLATE)) as store:
        store.upgrade()
    return POSTGRES_TEMPLATE


def new_database(
    request: pytest.FixtureRequest, backend: str, folder: Path, *, migrated: bool
) -> str:
    """The URL of a database of the test's own on `backend`: a SQLite file in `folder`, or
    a PostgreSQL database dropped after the test; migrated to the newest schema or empty."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'mailops.db'}"
        if migrated:
            with Store(url) as store:
                store.upgrade()
        return url
    server: LocalPostgres = request.getfixturevalue("local_postgres")
    template = request.getfixturevalue("migrated_postgres") if migrated else None
    name = f"test_{next(_database_numbers)}"
    url = server.create_database(name, template=template)
    request.addfinalizer(lambda: server.drop_database(name))
    return url


@pytest.fixture(params=STORE_BACKENDS)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store of the test's own: a SQLite file, then a PostgreSQL database."""
    store = Store(new_database(request, request.param, tmp_path, migrated=True))
    yield store
    store.close()


def race_processes(target: Callable[..., None], *argument_lists: tuple[Any, ...]) -> list[Any]:
    """Run `target(*arguments, start, results)` in one spawned OS process per argument list:
    each gets ready, waits on the `start` barrier so all act at the same moment, and puts one
    result. Returns the results (in the order they came) once every process ended cleanly."""
    context = multiprocessing.get_context("spawn")  # a fork would copy this process's threads
    start, results = context.Barrier(len(argument_lists)), context.Queue()
    workers = [context.Process(target=target, args=(*arguments, start, results))
               for arguments in argument_lists]
    for worker in workers:
        worker.start()
    found = [results.get(timeout=180) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * len(workers)
    return found
