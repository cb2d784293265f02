"""Memory figures from Linux's /proc, for the benches (no heavy imports: a bench's own baseline may import it)."""

from __future__ import annotations

from pathlib import Path


def proc_status_kb(pid: int | str, field: str) -> int:
    """A `kB` line of /proc/<pid>/status (`pid` "self" for this process; VmRSS: now, VmHWM: peak); 0 when absent."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0
