"""Run a command and report its own peak RSS, uninflated by the caller's memory.

Linux records, at ``exec``, the high-water RSS of the memory image being replaced into the new
program's ``ru_maxrss``; when a process is spawned by vfork/fork from a big parent (the bench,
holding parsed events and an in-process forge), that is the parent's RSS. Spawned from this small
process instead, the floor is this interpreter's ~10 MB, well below anything gz-tui reaches.

``python bench/peak_rss.py OUT_FILE -- CMD...`` writes CMD's stdout to OUT_FILE and prints one JSON
line: ``{"returncode", "maxrss_kb", "vmhwm_kb", "seconds"}`` (``vmhwm_kb``: the last VmHWM read
from /proc while polling every 5 ms, a lower bound kept as a cross-check).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def vmhwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def main(argv: list[str]) -> int:
    out_path, sep, *command = argv
    if sep != "--" or not command:
        raise SystemExit("usage: peak_rss.py OUT_FILE -- CMD...")
    with open(out_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stdin=subprocess.DEVNULL)
        hwm = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            hwm = max(hwm, vmhwm(proc.pid))
            time.sleep(0.005)
        seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    print(json.dumps({"returncode": code, "maxrss_kb": usage.ru_maxrss, "vmhwm_kb": hwm, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
