"""The spool from Prefect tasks: keep what could not be stored, import it when the store works.

`spool_folder()` is `<MAILOPS_DATA_DIR>/spool`; `import_pending(kind, load)` is the import
loop every job shares: each pending file of `kind`, oldest first, read and handed to
`load(store, payload)` (which must be idempotent: upserts, replace-by-day), then moved to
`imported/`. A file that cannot be read stays in place with one warning and never stops the
run; a store that still cannot be written leaves every file for the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import get_run_logger

from mailops.errors import SpoolError, StoreError
from mailops.spool_import import SpoolImport
from mailops.store import Store
from mailops.store.spool import Spool
from tasks.context import current_settings

# What `load` raises for a payload that is JSON but not the job's shape (a field missing, a
# value of the wrong type, a ledger claim that is not there; pydantic's ValidationError is a
# ValueError; KeyError is a LookupError).
UNUSABLE = (SpoolError, LookupError, TypeError, ValueError, AttributeError)


def spool_folder() -> Spool:
    """The spool under the configured data folder."""
    return Spool(Path(current_settings().data_dir) / "spool")


def import_pending(kind: str, load: Callable[[Store, dict[str, Any]], None]) -> SpoolImport:
    """Import every pending spool file of `kind` into the store with `load`."""
    logger = get_run_logger()
    spool = spool_folder()
    outcome = SpoolImport()
    paths = spool.pending(kind)
    if not paths:
        return outcome
    try:
        with Store(current_settings().database_url) as store:
            store.upgrade()
            for path in paths:
                try:
                    load(store, spool.read(path))
                except UNUSABLE as exc:
                    line = f"{path}: {exc}"
                    logger.warning("spool file left in place, it cannot be imported: %s", line)
                    outcome.unreadable.append(line)
                    continue
                outcome.imported.append(path.name)
                try:
                    spool.mark_imported(path)
                except SpoolError as exc:  # imported; the next run imports it again: harmless
                    logger.warning("%s", exc)
    except StoreError as exc:
        outcome.waiting = str(exc)
        logger.warning("%d spool file(s) of %s wait for a working store: %s",
                       len(paths) - len(outcome.imported), kind, exc)
    if outcome.imported:
        logger.info("%s: imported %d spooled file(s): %s", kind, len(outcome.imported),
                    ", ".join(outcome.imported))
    return outcome
