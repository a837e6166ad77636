"""What a job's import of its spooled files did, as data (the spool itself: mailops.store.spool;
the import loop every job shares: tasks.spool.import_pending)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SpoolImport:
    """What one import pass did: files imported, files left unreadable, and why the store
    could not take them (then every file waits for the next run)."""

    imported: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    waiting: str | None = None

    def describe(self) -> str | None:
        """One line for the log and the summary, or None when there was nothing."""
        parts = []
        if self.imported:
            parts.append(f"imported {len(self.imported)} spooled file(s): "
                         + ", ".join(self.imported))
        if self.unreadable:
            parts.append(f"{len(self.unreadable)} unreadable spool file(s) left in place")
        if self.waiting:
            parts.append(f"spooled files wait for a working store ({self.waiting})")
        return "; ".join(parts) or None
