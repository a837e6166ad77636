"""The spool: what a job collected but could not store, kept in files until the store works.

When the store cannot be written (corrupt, locked, down), a job writes what it collected
to `<data>/spool/<kind>-<key>.json` instead of losing it; its next run with a working store
imports every pending file of its kind first, then marks each imported (moved to
`<data>/spool/imported/`). Pure file I/O, no database and no Prefect: any job can use it
(daily-health's collected days; the billing freeze's frozen rows later).

    spool = Spool(Path(settings.data_dir) / "spool")
    path = spool.write("daily-health", "2026-10-04-shard-1of2-RUNID", {"day": ...})
    for path in spool.pending("daily-health"):     # oldest first
        payload = spool.read(path)                 # SpoolError when unreadable
        ...import it (idempotently: a file may be imported twice after a crash)...
        spool.mark_imported(path)

A payload is a JSON object of plain values: callers serialise their typed objects at this
edge and rebuild them on import. A file is written atomically (a temporary file, then
`os.replace`), so a reader never sees half of one, and never over an existing file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from mailops.errors import SpoolError

__all__ = ["IMPORTED", "Spool", "SpoolError"]

IMPORTED = "imported"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(text: str) -> str:
    """A name part usable in a file name on every system (no separator, no dot first)."""
    return _UNSAFE.sub("-", text).lstrip(".") or "-"


class Spool:
    """The spool folder: `write`, then `pending`, `read` and `mark_imported`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def write(self, kind: str, key: str, payload: dict[str, Any]) -> Path:
        """Keep `payload` as `<kind>-<key>.json` (a short hash added when that name is
        taken: a file is never overwritten); returns the file's path."""
        body = json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=True)
        stem = f"{_safe(kind)}-{_safe(key)}"
        path = self.folder / f"{stem}.json"
        if path.exists():
            path = self.folder / f"{stem}-{hashlib.sha256(body.encode()).hexdigest()[:8]}.json"
        temporary = self.folder / f".{path.name}.{os.getpid()}.tmp"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with temporary.open("w", encoding="utf-8") as file:
                file.write(body)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise SpoolError(f"cannot write the spool file {path}: {exc.strerror}") from None
        return path

    def pending(self, kind: str) -> list[Path]:
        """The files of `kind` not yet imported, oldest first (so a day spooled twice is
        imported in the order it was collected, the newest last)."""
        if not self.folder.is_dir():
            return []
        found = [p for p in self.folder.glob(f"{_safe(kind)}-*.json") if p.is_file()]
        return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def read(self, path: Path) -> dict[str, Any]:
        """A spool file's payload; `SpoolError` naming the file when it is not a readable
        JSON object (left where it is for a person to look at)."""
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise SpoolError(f"cannot read the spool file {path}: {exc}") from None
        if not isinstance(payload, dict):
            raise SpoolError(f"cannot read the spool file {path}: not a JSON object")
        return payload

    def mark_imported(self, path: Path) -> Path | None:
        """Move an imported file to `imported/` (kept for a person, never read again);
        None when it is already gone (another run imported it at the same time)."""
        target = self.folder / IMPORTED / Path(path).name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SpoolError(f"cannot move the spool file {path} to {target}: "
                             f"{exc.strerror}") from None
        return target
