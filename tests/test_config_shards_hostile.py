"""Issue 26, items 5, 6, 7 and 11: hostile config files, shards of different N, a full disk's stop, unpushed commits.

Real processes throughout: gz-tui run as a user runs it, against the embedded forge on 127.0.0.1, with real git."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gz_tui.forge_sim import Scenario
from tests.conftest import git_head, run_cli
from tests.helpers import repo_dirs

COMMANDS: tuple[tuple[str, ...], ...] = (("acme", "--dry-run"), ("sync", "--dry-run"), ("config", "show"), ("status",))
"""Every command that reads the config file: a run of an owner, a run of the targets, config show, status."""


@pytest.fixture
def cfg() -> Path:
    """The config file every gz-tui in this test reads (the autouse fixture points GZ_TUI_CONFIG at it)."""
    return Path(os.environ["GZ_TUI_CONFIG"])


def one_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The single stderr line of a refusal (exit 2, no traceback), holding each of ``words``."""
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-2000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def every_command_refuses(tmp_path: Path, *words: str) -> None:
    for command in COMMANDS:
        one_line(run_cli(*command, cwd=tmp_path, timeout=60), *words)


# --------------------------------------------------------------------------- 5: hostile config files


@pytest.mark.parametrize(
    "text",
    [
        "[defaults]\nworkers = " + "[" * 5000 + "]" * 5000 + "\n",
        "[targets.a]\ninclude = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n",
    ],
    ids=["arrays", "inline-tables"],
)
def test_a_deeply_nested_config_is_one_line_for_every_command(tmp_path: Path, cfg: Path, text: str) -> None:
    cfg.write_text(text)
    every_command_refuses(tmp_path, str(cfg), "nested too deeply")


def test_a_huge_config_gets_the_same_verdict_from_every_command(tmp_path: Path, cfg: Path) -> None:
    # Valid TOML, 5 MiB of it (a comment): before, `gz-tui OWNER` and `config show` took it and `sync` did not.
    cfg.write_text("[defaults]\nworkers = 4\n# " + "x" * (5 * 1024 * 1024) + "\n")
    every_command_refuses(tmp_path, str(cfg), "larger than 4 MiB")


@pytest.mark.skipif(os.name == "nt", reason="a FIFO")
def test_a_config_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Path, cfg: Path) -> None:
    os.mkfifo(cfg)  # nobody ever writes to it: a blocking open would hang the start forever
    one_line(run_cli("config", "show", timeout=30), "not a regular file")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[targets.up]\nprovider = "gitea"\nbase_url = "{base}"\nowner = "../escape"\n', ('owner = "../escape"', '".."')),
        ('[targets."../up"]\nprovider = "gitea"\nbase_url = "{base}"\nowner = "acme"\n', ("the name", '".."')),
        ('[targets."acme/x"]\nbase_url = "{base}"\n', ("[targets.acme/x]", "github owners have no '/'", "'acme/x'")),
        ('[targets.g]\nprovider = "gitlab"\nbase_url = "{base}"\nowner = "grp/../../etc"\n', ('owner = "grp/../../etc"',)),
    ],
    ids=["owner-dotdot", "name-dotdot", "slash-on-github", "gitlab-group-dotdot"],
)
def test_a_target_whose_owner_leaves_the_destination_is_refused_by_every_command(
    forge_factory: Any, tmp_path: Path, cfg: Path, text: str, words: tuple[str, ...]
) -> None:
    sim = forge_factory(org="acme", repos=3)
    cfg.write_text(text.replace("{base}", sim.base_url))
    every_command_refuses(tmp_path, str(cfg), *words)
    assert not sim.requests(), "refused before any request"
    assert not (tmp_path.parent / ".gz-tui").exists() and not (tmp_path / ".gz-tui").exists()


def test_an_owner_of_dotdot_on_the_command_line_is_refused_and_writes_nothing_above(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=3)
    work = tmp_path / "work"
    work.mkdir()
    result = run_cli("..", "--base-url", sim.base_url, "--dry-run", cwd=work)
    one_line(result, "'..'")
    assert not sim.requests() and not (tmp_path / ".gz-tui").exists()  # before: a state in the parent folder


def _many_targets(cfg: Path, base_url: str, count: int, last: str = "") -> None:
    head = f'[profiles.g]\nprovider = "gitea"\nbase_url = "{base_url}"\n[defaults]\nprofile = "g"\n'
    cfg.write_text(head + "".join(f'[targets.t{i}]\nowner = "org{i}"\n' for i in range(count)) + last)


def test_five_thousand_targets_resolve_in_linear_time(forge_factory: Any, tmp_path: Path, cfg: Path) -> None:
    # One target table per owner: resolution was quadratic (29.6 s for 2,000 here; 5,000 took minutes).
    sim = forge_factory(org="acme", repos=3)
    _many_targets(cfg, sim.base_url, 5000)
    started = time.monotonic()
    shown = run_cli("config", "show", cwd=tmp_path, timeout=60)
    assert shown.returncode == 0, shown.stderr[-2000:]
    blocks = [line for line in shown.stdout.splitlines() if line.startswith("[targets.")]
    assert len(blocks) == 5000 and blocks[-1].startswith("[targets.t4999]")
    # `sync` resolves the 5,000 and refuses the last one's cross-setting problem: all resolved, no request made.
    _many_targets(cfg, sim.base_url, 5000, '[targets.last]\nowner = "zz"\nmirror = true\ndepth = 1\n')
    one_line(run_cli("sync", cwd=tmp_path, timeout=60), "[targets.last]", "--mirror")
    assert time.monotonic() - started < 40
    assert not sim.requests()


# --------------------------------------------------------------------------- 6: the same repo cloned twice at once


def _shard(sim: Any, dest: Path, shard: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "gz_tui", "acme", "--base-url", sim.base_url, "--dest", str(dest), "--json", "--workers", "1"]
    return subprocess.Popen([*args, "--shard", shard], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _events(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_a_shard_of_another_n_is_refused_while_shards_run_and_nothing_fails(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=24, scenario=Scenario(git_latency=0.25))
    dest = tmp_path / "acme"
    first = _shard(sim, dest, "0/3")
    try:
        deadline = time.monotonic() + 60
        while not repo_dirs(dest) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert repo_dirs(dest), "the first shard is cloning"
        late = subprocess.run(
            [sys.executable, "-m", "gz_tui", "acme", "--base-url", sim.base_url, "--dest", str(dest), "--shard", "1/4"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert first.poll() is None, "the late-comer was judged while the first shard ran"
        assert late.returncode == 2 and "Traceback" not in late.stderr, late.stderr[-2000:]
        refusal = late.stderr.splitlines()[-1]  # after the no-token and "shard 1 of 4" notes
        for word in ("gz-tui: shards of 3", "--shard K/3", "--shard 1/4", str(dest)):
            assert word in refusal, refusal
        sibling = _shard(sim, dest, "1/3")  # the same N is welcome beside it
        code, (out, err) = sibling.wait(timeout=120), sibling.communicate()
        assert code == 0, err[-2000:]
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err[-2000:]
    outcomes = Counter(e["outcome"] for e in _events(out) if e["event"] == "repo_done")
    assert outcomes and set(outcomes) == {"cloned"}


def test_a_repo_listed_twice_on_one_page_is_synced_once(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=25, scenario=Scenario(hostile_listing="duplicates"))
    dest = tmp_path / "acme"
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--json", "--workers", "4")
    assert result.returncode == 0, result.stderr[-2000:]
    done = [e["repo"] for e in _events(result.stdout) if e["event"] == "repo_done"]
    assert len(done) == len(set(done)) == 25
    assert all(e["outcome"] == "cloned" for e in _events(result.stdout) if e["event"] == "repo_done")
    assert repo_dirs(dest) == set(sim.repo_names())


# --------------------------------------------------------------------------- 11: --update never drops unpushed commits


def _commit_locally(clone: Path, text: str) -> str:
    (clone / "mine.txt").write_text(text)
    identity = ["-c", "user.name=Me", "-c", "user.email=me@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "-C", str(clone), "add", "mine.txt"], check=True, capture_output=True)
    subprocess.run(["git", "-C", str(clone), *identity, "commit", "-q", "-m", "local work"], check=True, capture_output=True)
    return git_head(clone)


def _sync(sim: Any, dest: Path, *extra: str) -> tuple[int, dict[str, dict[str, Any]]]:
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--json", *extra)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    done = {e["repo"].split("/")[-1]: e for e in _events(result.stdout) if e["event"] in ("repo_done", "repo_failed")}
    return result.returncode, done


@pytest.mark.parametrize("mode", ["reset", "pull"])
def test_an_update_keeps_a_clone_with_unpushed_commits_as_dirty(forge_factory: Any, tmp_path: Path, mode: str) -> None:
    sim = forge_factory(org="acme", repos=2)
    dest = tmp_path / "acme"
    assert _sync(sim, dest)[0] == 0
    mine = _commit_locally(dest / "repo-00001", "my commit, never pushed\n")
    upstream = sim.push_commit("repo-00001")  # the forge moved on too: reset would drop mine, a fast-forward cannot be
    other = sim.push_commit("repo-00002")
    code, done = _sync(sim, dest, "--update", mode)
    assert code == 0
    assert done["repo-00001"]["outcome"] == "skipped", done["repo-00001"]
    assert "commits on no remote branch" in json.dumps(done["repo-00001"])
    assert git_head(dest / "repo-00001") == mine and (dest / "repo-00001" / "mine.txt").is_file()
    assert git_head(dest / "repo-00001", "origin/HEAD") == upstream  # fetched all the same
    assert done["repo-00002"]["outcome"] == "updated" and git_head(dest / "repo-00002") == other


def test_reset_still_moves_a_clone_whose_commits_are_all_pushed_shallow_or_not(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2)
    for name, extra in (("full", ()), ("shallow", ("--depth", "1"))):
        dest = tmp_path / name
        assert _sync(sim, dest, *extra)[0] == 0
        new = sim.push_commit("repo-00001")
        code, done = _sync(sim, dest, "--update", "reset", *extra)
        assert code == 0 and done["repo-00001"]["outcome"] == "updated", (name, done["repo-00001"])
        assert git_head(dest / "repo-00001") == new


# --------------------------------------------------------------------------- 7: status tells the truth after a stop


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB tmpfs (root only; skipped elsewhere), unmounted at the end of the test."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4M,mode=0700", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", str(mount)], capture_output=True)


def _fill(mount: Path) -> None:
    fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)


def _run_until(sim: Any, dest: Path, done: int, then: Callable[[subprocess.Popen[str]], None]) -> tuple[int, list[dict[str, Any]], str]:
    """Run gz-tui on ``dest``; once ``done`` repos are done, call ``then`` with the process; its exit and events."""
    args = [sys.executable, "-m", "gz_tui", "acme", "--base-url", sim.base_url, "--dest", str(dest), "--json", "--workers", "2"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    events: list[dict[str, Any]] = []
    for line in process.stdout:
        events.append(json.loads(line))
        if sum(e["event"] == "repo_done" for e in events) == done and events[-1]["event"] == "repo_done":
            then(process)
    _, err = process.communicate(timeout=120)
    return process.returncode, events, err


def test_after_the_clean_stop_on_a_full_disk_status_says_so_not_running(forge_factory: Any, small_fs: Path) -> None:
    # Enough repos that their failures' records outgrow whatever room the state's files had left.
    sim = forge_factory(org="acme", repos=300, scenario=Scenario(git_latency=0.1))
    dest = small_fs / "acme"
    code, events, err = _run_until(sim, dest, 3, lambda _: _fill(small_fs))
    assert code == 1, err[-2000:]
    assert "cannot be written" in events[-1].get("message", ""), (events[-1], err[-1500:])  # the state itself met the full disk
    status = run_cli("status", str(dest))
    assert status.returncode == 0, status.stderr
    line = next(line for line in status.stdout.splitlines() if line.startswith("last run #1:"))
    assert f"stopped: disk full at {small_fs}" in line and "running" not in line, status.stdout
    assert "to resume: gz-tui acme" in status.stdout  # the command that resumes it


def test_status_says_a_killed_run_is_gone_and_a_live_one_is_running(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=40, scenario=Scenario(git_latency=0.2))
    dest = tmp_path / "acme"
    seen: list[str] = []

    def look_then_kill(process: subprocess.Popen[str]) -> None:
        seen.append(run_cli("status", str(dest)).stdout)
        process.send_signal(signal.SIGKILL)

    _run_until(sim, dest, 2, look_then_kill)
    assert "last run #1: in progress (PID " in seen[0], seen[0]
    after = run_cli("status", str(dest)).stdout
    assert "last run #1: stopped before the end (killed or crashed)" in after, after
