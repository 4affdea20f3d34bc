"""gz-tui benchmark suite: ``python bench/run.py [--quick] [--only P1,P3] [--runs N]``.

Starts the embedded forge, runs each benchmark (medians of several runs, gz-tui and its reference
alternated) and prints a markdown table — metric | gz-tui | reference | ratio | goal | met? — which
is also written to ``bench/results/latest.md``. ``--quick`` (CI) uses smaller orgs and fewer runs
and takes about a minute and a half on 2 cores.

Exit status: 0 when every benchmark produced a measurement, goals met or not; 1 when one crashed
(the product failed the run, or the benchmark itself broke); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent))  # gz_tui from this checkout, installed or not

from benchmarks import BENCHMARKS, Context  # noqa: E402 (after the sys.path lines above)
from harness import PYTHON, Row, Workspace, default_dest_root, is_tmpfs, machine  # noqa: E402 (after the sys.path lines above)

TITLES = {
    "P1": "clone tiny repos on tmpfs vs xargs git clone",
    "P2": "dry run throughput vs curl",
    "P3": "time to first clone",
    "P4": "peak memory, small vs huge org",
    "P5": "resume from a huge state",
    "P6": "dashboard vs headless throughput",
    "P7": "re-sync of unchanged repos",
    "P8": "three targets in one run vs one org of the same repos",
    "P9": "three concurrent shards vs one process",
    "P10": "partial clones (--filter blob:none) vs full clones",
    "P11": "Bitbucket Cloud and Data Center, Sourcehut and Gogs dry runs: requests and wall time vs curl",
    "P13": "--all on a GitLab instance (keyset pages of /projects): requests and wall time vs curl",
    "P14": "Git LFS mirrors: --mirror --lfs vs xargs -P git clone --mirror && git lfs fetch --all",
    "P15": "a sync after renames upstream: clones moved, no pack fetched",
    "P16": "--verify of unchanged repos vs xargs -P 16 git ls-remote",
}


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def table(rows: list[Row]) -> str:
    header = ["metric", "gz-tui", "reference", "ratio", "goal", "met?"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def report(info: dict[str, str], rows: list[Row], args: argparse.Namespace, seconds: float) -> str:
    mode = "quick" if args.quick else "full"
    parts = [
        f"# gz-tui benchmarks ({mode})",
        "",
        "Machine: " + " · ".join(f"{k} {v}" for k, v in info.items()),
        "",
        "Command: `python bench/run.py"
        + (" --quick" if args.quick else "")
        + (f" --only {args.only}" if args.only else "")
        + (f" --runs {args.runs}" if args.runs else "")
        + (f" --dest-root {args.dest_root}" if args.dest_root else "")
        + "`",
        "",
        table(rows),
        "",
    ]
    notes = [note for row in rows for note in row.notes]
    if notes:
        parts += ["Notes:", ""] + [f"- {note}" for note in notes] + [""]
    parts.append(f"Total bench time {seconds:.0f} s.")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--quick", action="store_true", help="small orgs, fewer runs (CI; under 2 minutes)")
    parser.add_argument("--only", help="comma-separated benchmarks, e.g. P1,P3 (default: all)")
    parser.add_argument("--runs", type=int, help="runs per measurement (default: per benchmark, fewer with --quick)")
    parser.add_argument(
        "--dest-root",
        type=Path,
        help="where P1 and P2 put their clone destinations (default: /dev/shm, tmpfs, when writable; else the temporary dir)",
    )
    args = parser.parse_args(argv)
    dest_root = args.dest_root if args.dest_root is not None else default_dest_root()
    if dest_root is not None and not (dest_root.is_dir() and os.access(dest_root, os.W_OK)):
        parser.error(f"--dest-root {dest_root} is not a writable directory")
    selected = list(BENCHMARKS)
    if args.only:
        selected = [name.strip().upper() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in selected if name not in BENCHMARKS]
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")

    info = machine()
    log("machine: " + " · ".join(f"{k} {v}" for k, v in info.items()))
    started = time.perf_counter()
    ws = Workspace(dest_root)
    rows: list[Row] = []
    crashed: list[str] = []
    try:
        ctx = Context(ws, args.quick, args.runs, log, on_tmpfs=is_tmpfs(ws.dest_root))
        log(f"clone destinations (P1, P2) under {ws.dest_root}" + (" (tmpfs)" if ctx.on_tmpfs else ""))
        # Compile gz_tui's bytecode once so no timed run pays for it (as pip does when it installs).
        import subprocess

        subprocess.run([PYTHON, "-m", "compileall", "-q", str(BENCH_DIR.parent / "gz_tui")], env=ws.env, capture_output=True, check=False)
        subprocess.run([PYTHON, "-m", "gz_tui", "--version"], env=ws.env, capture_output=True, check=False)
        for name in selected:
            log(f"{name}: {TITLES[name]} ...")
            t0 = time.perf_counter()
            try:
                rows += BENCHMARKS[name](ctx)
            except Exception as exc:  # noqa: BLE001 -- one broken benchmark must not hide the others
                crashed.append(name)
                log(traceback.format_exc())
                rows.append(Row(f"{name} {TITLES[name]}", "CRASHED", "—", "—", "—", None, [f"{name} crashed: {exc}"]))
            log(f"{name}: done in {time.perf_counter() - t0:.1f} s")
    finally:
        ws.close()
    text = report(info, rows, args, time.perf_counter() - started)
    print(text)
    results = BENCH_DIR / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.md").write_text(text)
    if crashed:
        log(f"crashed: {', '.join(crashed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
