"""Git LFS (``--lfs``) against the embedded forge with the real git-lfs: mirrors and working clones hold the files'
real contents on GitHub, GitLab and Gitea; a re-sync of an unchanged repo fetches nothing, a push only its new
object; a killed run resumes; an LFS server on another host is refused; the token stays off argv and disk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gz_tui.forge_sim import ForgeSim
from gz_tui.forge_sim.lfs import object_path
from gz_tui.forge_sim.scenario import Scenario
from tests.conftest import run_cli
from tests.helpers import events_match_their_declarations, run_pipeline, settings_for, token_variable

ORG = "acme"
TOKEN = "lfs-audit-token-5f1e"
LFS_PROVIDERS = ("github", "gitlab", "gitea")
LFS_REPOS = 3
LFS_KB = 96
KINDS = ("mirror", "checkout")
LFS_FILTER = [
    "-c",
    "filter.lfs.process=git-lfs filter-process",
    "-c",
    "filter.lfs.smudge=git-lfs smudge -- %f",
    "-c",
    "filter.lfs.clean=git-lfs clean -- %f",
    "-c",
    "filter.lfs.required=true",
]
"""What ``git lfs install`` puts in a user's config: a restore as the user would make it."""

pytestmark = pytest.mark.skipif(shutil.which("git-lfs") is None and not os.environ.get("CI"), reason="git-lfs is not installed")


def _sim(forge_factory: Any, provider: str, **scenario: Any) -> ForgeSim:
    knobs: dict[str, Any] = {"lfs_repos": LFS_REPOS, "lfs_kb": LFS_KB, "lfs_style": provider, **scenario}
    sim: ForgeSim = forge_factory(org=ORG, repos=6, token=TOKEN, scenario=Scenario(**knobs))
    return sim


def _settings(sim: ForgeSim, dest: Path, provider: str, **changes: Any) -> Any:
    values: dict[str, Any] = {"lfs": True, **changes}
    return settings_for(sim, dest, provider=provider, base_url=sim.api_url(provider), token=TOKEN, **values)


def _lfs_names(sim: ForgeSim, provider: str) -> list[str]:
    return [name for name in sim.repo_names(provider) if sim.lfs_files_of(name)]


def _copy(dest: Path, name: str, kind: str) -> Path:
    return dest / (f"{name}.git" if kind == "mirror" else name)


def _restore(mirror: Path, into: Path) -> Path:
    """A working tree from the mirror alone (the forge is not asked): git and git-lfs as a user runs them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")
    subprocess.run(["git", *LFS_FILTER, "clone", "-q", mirror.as_uri(), str(into)], check=True, env=env, capture_output=True)
    return into


def _lfs_object_fetches(sim: ForgeSim) -> list[str]:
    return [r.path for r in sim.lfs_requests() if r.method == "GET"]


def _summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    return next(e for e in events if e["event"] == "summary")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("provider", LFS_PROVIDERS)
def test_copies_hold_the_real_files_and_a_resync_fetches_only_what_is_new(
    forge_factory: Any, tmp_path: Path, provider: str, kind: str
) -> None:
    sim = _sim(forge_factory, provider)
    dest = tmp_path / "dest"
    stats_file = tmp_path / "stats.jsonl"
    update = {} if kind == "mirror" else {"update": "pull"}  # a checkout that moves: its new tree's objects come
    settings = _settings(sim, dest, provider, mirror=kind == "mirror", stats_file=stats_file, **update)
    code, _, events = run_pipeline(settings)
    assert code == 0, [e for e in events if e["event"] == "repo_failed"]
    events_match_their_declarations(events)
    names = _lfs_names(sim, provider)
    assert len(names) == LFS_REPOS
    expected = sum(len(data) for name in names for data in sim.lfs_files_of(name).values())
    assert _summary(events)["lfs_bytes"] == expected
    row = json.loads(stats_file.read_text().splitlines()[-1])
    assert row["lfs_bytes"] == expected and row["bytes"] >= expected
    done = {e["repo"].rpartition("/")[2]: e for e in events if e["event"] == "repo_done"}
    for name in names:
        assert done[name.rpartition("/")[2]]["bytes"] >= LFS_KB * 1024
        copy = _copy(dest, name, kind)
        tree = _restore(copy, tmp_path / "restored" / name) if kind == "mirror" else copy
        for path, data in sim.lfs_files_of(name).items():
            assert (tree / path).read_bytes() == data, (name, path)  # the file, not its pointer
        if kind == "checkout":  # git sees no change: the real file cleans to the pointer it has
            status = subprocess.run(["git", *LFS_FILTER, "status", "--porcelain"], cwd=copy, capture_output=True, text=True, check=True)
            assert status.stdout == ""
    # Only the LFS repos asked the LFS server; the token went to the forge's host only.
    asked = {r.path.split(".git/")[0].rpartition("/")[2] for r in sim.lfs_requests() if ".git/" in r.path}
    assert asked == {name.rpartition("/")[2] for name in names}
    batches = [r for r in sim.lfs_requests() if r.path.endswith("/objects/batch")]
    assert batches and {r.credential for r in batches} == {"token"}
    media = [r for r in sim.lfs_requests() if r.path.startswith("/alambic/")]
    if provider == "github":  # objects from the media host (another host name): no credential went there
        assert media and {r.credential for r in media} == {"none"}
    else:
        assert media == []

    # Nothing changed: nothing is fetched (no git, no LFS).
    sim.clear_log()
    code, _, events = run_pipeline(settings)
    assert code == 0 and _summary(events)["lfs_bytes"] == 0
    assert sim.lfs_requests() == []

    # One push adds one LFS file: only that object comes.
    changed = names[1]
    new = os.urandom(40_000)
    oid = sim.push_lfs(changed, new)
    sim.clear_log()
    code, _, events = run_pipeline(settings)
    assert code == 0 and _summary(events)["lfs_bytes"] == len(new)
    fetched = _lfs_object_fetches(sim)
    assert len(fetched) == 1 and oid in fetched[0]
    copy = _copy(dest, changed, kind)
    tree = _restore(copy, tmp_path / "restored-again") if kind == "mirror" else copy
    assert (tree / "lfs-update-1.bin").read_bytes() == new


@pytest.mark.parametrize("provider", LFS_PROVIDERS)
def test_an_lfs_server_on_another_host_is_refused(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    probe = ForgeSim(tmp_path / "probe", org=ORG, repos=6)
    elsewhere = probe.repo_names()[4]  # not among the first LFS_REPOS
    sim = _sim(forge_factory, provider, lfs_elsewhere=(elsewhere,))
    dest = tmp_path / "dest"
    code, _, events = run_pipeline(_settings(sim, dest, provider, mirror=True))
    assert code == 1
    failed = {e["repo"].rpartition("/")[2]: e for e in events if e["event"] == "repo_failed"}
    assert set(failed) == {elsewhere}
    assert failed[elsewhere]["error_class"] == "unsafe"
    assert "another host" in failed[elsewhere]["message"] and "localhost" in failed[elsewhere]["message"]
    assert not [r for r in sim.requests() if "/elsewhere/" in r.path], "git-lfs was sent to the other host"
    assert _summary(events)["lfs_bytes"] == LFS_REPOS * (LFS_KB * 1024 // 2) * 2


def test_a_run_killed_mid_lfs_resumes_and_completes(forge_factory: Any, tmp_path: Path) -> None:
    sim = _sim(forge_factory, "gitea", lfs_repos=6, git_latency=0.05)
    dest = tmp_path / "dest"
    args = [sys.executable, "-m", "gz_tui", ORG, "--provider", "gitea", "--base-url", sim.api_url("gitea"), "--dest", str(dest)]
    args += ["--lfs", "--mirror", "--json", "--workers", "2"]
    env = {**os.environ, token_variable("gitea"): TOKEN}
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and not _lfs_object_fetches(sim):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert _lfs_object_fetches(sim), "the run ended before any LFS object was asked for"
    done = run_cli(*args[3:], env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["event"] == "summary" and summary["failed"] == 0
    for name in sim.repo_names("gitea"):
        mirror = dest / f"{name}.git"
        for data in sim.lfs_files_of(name).values():
            oid = __import__("hashlib").sha256(data).hexdigest()
            assert object_path(mirror, oid).read_bytes() == data, name
    assert not (dest / ".gz-tui" / "tmp").exists() or list((dest / ".gz-tui" / "tmp").iterdir()) == []


def test_token_stays_off_argv_config_lfs_folders_and_logs_even_when_git_lfs_fails(forge_factory: Any, tmp_path: Path) -> None:
    sim = _sim(forge_factory, "gitlab")
    bin_dir, argv_dir = tmp_path / "bin", tmp_path / "argv"
    bin_dir.mkdir()
    argv_dir.mkdir()
    for tool in ("git", "git-lfs"):  # each git and git-lfs child writes down its argv, then runs the real one
        real = shutil.which(tool)
        assert real is not None
        wrapper = bin_dir / tool
        wrapper.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > '{argv_dir}'/{tool}.$$\nexec '{real}' \"$@\"\n")
        wrapper.chmod(0o755)
    dest, log_file = tmp_path / "dest", tmp_path / "run.log"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", token_variable("gitlab"): TOKEN}
    args = [ORG, "--provider", "gitlab", "--base-url", sim.api_url("gitlab"), "--dest", str(dest), "--lfs", "--json"]
    args += ["--update", "pull", "--attempts", "1", "--log-file", str(log_file)]
    assert run_cli(*args, env=env).returncode == 0
    # A push whose LFS object the forge then lacks: git-lfs fails inside the clone on disk.
    broken = _lfs_names(sim, "gitlab")[0]
    oid = sim.push_lfs(broken, os.urandom(5000))
    object_path(sim.root / ORG / f"{broken.rpartition('/')[2]}.git", oid).unlink()
    done = run_cli(*args, env=env)
    assert done.returncode == 1, done.stderr
    failed = [json.loads(line) for line in done.stdout.splitlines() if '"repo_failed"' in line]
    assert len(failed) == 1 and failed[0]["repo"].endswith(broken.rpartition("/")[2])
    assert "git lfs" in failed[0]["message"]
    assert list(argv_dir.glob("git-lfs.*")), "git-lfs never ran"
    forms = _token_forms()
    for path in [*argv_dir.iterdir(), log_file]:
        assert not [f for f in forms if f in path.read_bytes()], path
    assert not [f for f in forms if f in done.stdout.encode() + done.stderr.encode()]
    for path in dest.rglob("*"):
        if path.is_file():
            assert not [f for f in forms if f in path.read_bytes()], path  # .git/config, .git/lfs, the state


def test_git_lfs_error_logs_which_list_its_environment_never_reach_the_disk(forge_factory: Any, tmp_path: Path) -> None:
    """git-lfs logs a crash to ``lfs/logs`` with every ``GIT_*`` variable (the token header's among them): in a
    copy gz-tui made, that log has nowhere to go but stderr. ``git lfs logs boomtown`` is git-lfs's own crash."""
    sim = _sim(forge_factory, "gitea")
    dest = tmp_path / "dest"
    assert run_pipeline(_settings(sim, dest, "gitea", mirror=True))[0] == 0
    mirror = dest / f"{_lfs_names(sim, 'gitea')[0]}.git"
    header = "Authorization: Basic " + __import__("base64").b64encode(f"oauth2:{TOKEN}".encode()).decode()
    env = {**os.environ, "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"http.{sim.base_url}/.extraHeader", "GIT_CONFIG_VALUE_0": header}
    crash = subprocess.run(["git", "lfs", "logs", "boomtown"], cwd=mirror, env=env, capture_output=True)
    assert crash.returncode != 0 and TOKEN.encode() not in crash.stderr  # the header is there, base64 only
    assert header.encode() in crash.stderr, "git-lfs did not write its environment where we can see it"
    assert (mirror / "lfs" / "logs").is_file()
    assert not [p for p in mirror.rglob("*") if p.is_file() and header.encode() in p.read_bytes()]
    elsewhere = tmp_path / "plain.git"  # the same crash in a repo gz-tui did not prepare writes the header to disk
    subprocess.run(["git", "init", "-q", "--bare", str(elsewhere)], check=True)
    subprocess.run(["git", "lfs", "logs", "boomtown"], cwd=elsewhere, env=env, capture_output=True)
    assert [p for p in (elsewhere / "lfs" / "logs").iterdir() if header.encode() in p.read_bytes()]


def _token_forms() -> list[bytes]:
    import base64
    from urllib.parse import quote

    forms = {TOKEN.encode(), quote(TOKEN).encode()}
    for user in ("oauth2", "x-access-token", "forge-sim-user", ""):
        forms.add(base64.b64encode(f"{user}:{TOKEN}".encode()).rstrip(b"="))
    return sorted(forms)


def test_without_git_lfs_the_run_stops_at_once_saying_how_to_install_it(forge_factory: Any, tmp_path: Path) -> None:
    sim = _sim(forge_factory, "gitea")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git = shutil.which("git")
    assert git is not None
    (bin_dir / "git").symlink_to(git)  # git, but no git-lfs on PATH
    env = {**os.environ, "PATH": str(bin_dir), token_variable("gitea"): TOKEN}
    done = run_cli(
        ORG, "--provider", "gitea", "--base-url", sim.api_url("gitea"), "--dest", str(tmp_path / "d"), "--lfs", "--no-tui", env=env
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "git-lfs" in lines[0] and "install" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert sim.lfs_requests() == [] and not [r for r in sim.requests() if r.kind == "git"]


def test_without_lfs_a_users_own_lfs_filter_does_not_run(forge_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user whose git config has ``git lfs install``'s filter: without --lfs gz-tui runs no git-lfs (pointers stay)."""
    sim = _sim(forge_factory, "gitea")
    config = tmp_path / "gitconfig"
    config.write_text(
        '[filter "lfs"]\n\tprocess = git-lfs filter-process\n\tsmudge = git-lfs smudge -- %f\n\tclean = git-lfs clean -- %f\n\trequired = true\n'
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    dest = tmp_path / "dest"
    code, _, events = run_pipeline(_settings(sim, dest, "gitea", lfs=False))
    assert code == 0
    assert sim.lfs_requests() == []
    name = _lfs_names(sim, "gitea")[0]
    assert (dest / name / "lfs-1.bin").read_bytes().startswith(b"version https://git-lfs.github.com/spec/v1")
    assert "lfs_bytes" not in _summary(events)
