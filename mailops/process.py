"""Who this process is, and whether another process on this host is still the one it was.

The run ledger names the process holding a claim by host, process id and a start marker (the
kernel's boot id and the process's start time, from /proc on Linux), so that right after a
kill -9 the next run on the same host knows the holder is dead, and a process id reused after
a reboot or by another program is not taken for the holder.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from mailops.store.ledger import Holder

_PROC = Path("/proc")


def this_holder() -> Holder:
    """This process as a claim holder."""
    pid = os.getpid()
    return Holder(socket.gethostname(), pid, start_marker(pid))


def start_marker(pid: int) -> str | None:
    """The boot id and start time of process `pid` ("boot:ticks"); None when there is no such
    process. Where /proc is missing, the pid's existence is all that can be told ("pid")."""
    stat = _PROC / str(pid) / "stat"
    if not _PROC.is_dir():
        return "pid" if _pid_exists(pid) else None
    try:
        text = stat.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # Field 22 (start time) counted after the command name, which may hold spaces and ")".
    fields = text[text.rfind(")") + 2:].split()
    if len(fields) < 20 or fields[0] == "Z":  # a zombie is dead: it only waits to be reaped
        return None
    return f"{_boot_id()}:{fields[19]}"


def _boot_id() -> str:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text(encoding="ascii").strip()[:36]
    except OSError:
        return "boot"


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
