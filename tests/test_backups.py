"""Backups and lean clones against the embedded forge, with real git: --mirror, --wikis, --filter,
--single-branch/--branch, and --prune with its attic (never deleting, never moving local work)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from gz_tui.forge_sim import ForgeSim
from gz_tui.forge_sim.scenario import Scenario
from gz_tui.pipeline.prune import PruneQuestions
from gz_tui.pipeline.snapshot import PruneQuestion
from gz_tui.pipeline.state import SCHEMA_VERSION, StateStore
from gz_tui.pipeline.stats import Stats
from tests.conftest import git_head, run_cli
from tests.helpers import events_match_their_declarations, repo_dirs, run_pipeline, settings_for

ORG = "acme"
PROVIDERS = ("github", "gitlab", "gitea", "bitbucket", "bitbucket-server", "sourcehut", "gogs")
WIKI_PROVIDERS = ("github", "gitlab", "gitea", "bitbucket")
"""Forges prune can ask about one repo before it moves a clone (Sourcehut's lookup is a GraphQL query not yet asked:
prune keeps every Sourcehut clone)."""
"""Bitbucket Data Center and Sourcehut have no wikis beside a repo; Bitbucket Cloud serves them at ``NAME.git/wiki``;
Gogs does not say which repos have one (``tests/test_sourcehut_gogs.py``)."""
WIKI_AT = {"bitbucket": "{name}.git/wiki"}
"""Where each forge serves a repo's wiki, below the owner (default ``{name}.wiki.git``)."""


def _settings(sim: ForgeSim, dest: Path, provider: str, **changes: Any) -> Any:
    return settings_for(sim, dest, provider=provider, base_url=sim.api_url(provider), **changes)


def _git(path: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=True).stdout


def _bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _refs(bare: Path) -> dict[str, str]:
    lines = _git(bare, "for-each-ref", "--format=%(refname) %(objectname)").split("\n")
    return dict(line.split(" ", 1) for line in lines if line)


def _outcomes(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    prefix = f"{ORG}/"
    return {e["repo"].removeprefix(prefix): e for e in events if e["event"] in ("repo_done", "repo_failed")}


# --------------------------------------------------------------------------- mirrors


@pytest.mark.parametrize("provider", PROVIDERS)
def test_mirror_holds_every_ref_follows_pushes_and_drops_deleted_branches(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=40)
    dest = tmp_path / ORG
    code, _, events = run_pipeline(_settings(sim, dest, provider, mirror=True))
    assert code == 0
    events_match_their_declarations(events)
    names = sim.repo_names(provider)
    for name in names:
        mirror = dest / f"{name}.git"
        assert _git(mirror, "rev-parse", "--is-bare-repository").strip() == "true"
        assert _refs(mirror) == sim.refs_of(name), name
    assert repo_dirs(dest) == set(), "a mirror destination holds no working clones"
    assert {e["kind"] for e in events if e["event"] == "repo_done"} == {"mirror"}

    pushed = names[3:8]
    for name in pushed:
        sim.push_commit(name)
    code, _, events = run_pipeline(_settings(sim, dest, provider, mirror=True))
    assert code == 0
    updated = {path for path, e in _outcomes(events).items() if e.get("outcome") == "updated"}
    assert updated == set(pushed)
    for name in pushed:
        assert _refs(dest / f"{name}.git") == sim.refs_of(name)

    victim = names[10]
    sim.set_branch(victim, "develop", None)
    code, _, _ = run_pipeline(_settings(sim, dest, provider, mirror=True))
    assert code == 0
    refs = _refs(dest / f"{victim}.git")
    assert "refs/heads/develop" not in refs and refs == sim.refs_of(victim)


@pytest.mark.slow
def test_mirror_of_a_300_repo_org_has_every_ref(forge_factory: Any, tmp_path: Path) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=300)
    dest = tmp_path / ORG
    code, pipeline, _ = run_pipeline(settings_for(sim, dest, mirror=True, workers=8, buffer=100))
    assert code == 0 and pipeline.stats.counts.cloned == 300
    for name in sim.repo_names():
        assert _refs(dest / f"{name}.git") == sim.refs_of(name), name


def test_a_destination_keeps_one_kind_of_clone(forge_factory: Any, tmp_path: Path) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=5)
    dest = tmp_path / ORG
    assert run_cli(ORG, "--base-url", sim.base_url, "--dest", str(dest), "--no-tui", "--token", "").returncode == 0
    mixed = run_cli(ORG, "--base-url", sim.base_url, "--dest", str(dest), "--no-tui", "--token", "", "--mirror")
    assert mixed.returncode == 2
    last = mixed.stderr.strip().splitlines()[-1]
    assert "holds working clones" in last and "another --dest" in last and "Traceback" not in mixed.stderr
    assert not any(p.name.endswith(".git") for p in dest.iterdir())
    # Found on disk too, when the state is forgotten.
    again = run_cli(ORG, "--base-url", sim.base_url, "--dest", str(dest), "--no-tui", "--token", "", "--mirror", "--fresh")
    assert again.returncode == 2 and "holds working clones" in again.stderr


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--mirror", "--depth", "1"], "--mirror copies every ref in full; --depth is for working clones"),
        (["--filter", "blob:some"], "--filter"),
        (["--branch=-x"], "--branch must be a branch name"),
        (["--prune-limit", "101"], "--prune-limit must be at most 100"),
        (["--depth", "1", "--filter", "blob:none"], "choose one"),
    ],
)
def test_bad_backup_flags_are_one_line_and_exit_2(tmp_path: Path, flags: list[str], said: str) -> None:
    result = run_cli("acme", "--dest", str(tmp_path / "d"), "--token", "", *flags)
    assert result.returncode == 2
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- wikis


@pytest.mark.parametrize("provider", WIKI_PROVIDERS)
@pytest.mark.parametrize("mirror", [False, True])
def test_wikis_present_are_cloned_and_empty_ones_skipped(forge_factory: Any, tmp_path: Path, provider: str, mirror: bool) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=12)
    dest = tmp_path / ORG
    code, pipeline, events = run_pipeline(_settings(sim, dest, provider, wikis=True, mirror=mirror))
    assert code == 0
    events_match_their_declarations(events)
    assert not [e for e in events if e["event"] == "repo_failed"]
    outcomes = _outcomes(events)
    suffix = ".wiki.git" if mirror else ".wiki"
    states = {name: sim.wiki_of(name) for name in sim.repo_names(provider)}
    assert {"present", "empty", "off"} <= set(states.values())
    for name, state in states.items():
        wiki = dest / f"{name}{suffix}"
        if state == "present":
            at = f"/{ORG}/" + WIKI_AT.get(provider, "{name}.wiki.git").format(name=name) + "/info/refs"
            assert [r for r in sim.requests() if r.kind == "git" and r.path.startswith(at)], f"the wiki was not asked at {at}"
            assert outcomes[f"{name}.wiki"]["kind"] == "wiki" and outcomes[f"{name}.wiki"]["outcome"] == "cloned"
            assert len(_git(wiki, "rev-parse", "HEAD").strip()) == 40
            assert _git(wiki, "rev-parse", "--is-bare-repository").strip() == ("true" if mirror else "false")
        elif state == "empty":
            assert outcomes[f"{name}.wiki"]["outcome"] == "skipped" and outcomes[f"{name}.wiki"]["message"] == "no wiki"
            assert not wiki.exists()
        else:
            assert f"{name}.wiki" not in outcomes and not wiki.exists()
    counts = pipeline.stats.counts
    assert counts.failed == 0 and counts.wikis == sum(s == "present" for s in states.values())
    assert counts.no_wiki == sum(s == "empty" for s in states.values())
    summary = next(e for e in events if e["event"] == "summary")
    assert summary["wikis"] == counts.wikis and summary["failed"] == 0


@pytest.mark.parametrize("provider", WIKI_PROVIDERS)
@pytest.mark.parametrize("shape", ["no_refs", "server_error"])
def test_a_wiki_nobody_wrote_is_no_wiki_however_the_forge_answers_it(forge_factory: Any, tmp_path: Path, provider: str, shape: Any) -> None:
    """Gitea 1.15 answers an enabled, never-written wiki with a 200 and no refs, newer Gitea with a 500: both are
    ``skipped: no wiki`` (exit 0, first run and re-sync alike); a wiki that really cannot be synced still fails."""
    sim: ForgeSim = forge_factory(org=ORG, repos=12, scenario=Scenario(empty_wiki=shape))
    dest = tmp_path / ORG
    names = sim.repo_names(provider)
    empty = [name for name in names if sim.wiki_of(name) == "empty"]
    assert empty
    for run in ("first", "re-sync"):
        code, pipeline, events = run_pipeline(_settings(sim, dest, provider, wikis=True))
        assert code == 0, run
        outcomes = _outcomes(events)
        for name in empty:
            assert outcomes[f"{name}.wiki"]["outcome"] == "skipped" and outcomes[f"{name}.wiki"]["message"] == "no wiki", run
            assert not (dest / f"{name}.wiki").exists()
        assert pipeline.stats.counts.failed == 0 and pipeline.stats.counts.no_wiki == len(empty)
    blocked = next(name for name in names if sim.wiki_of(name) == "present")
    shutil.rmtree(dest / f"{blocked}.wiki")
    (dest / f"{blocked}.wiki").mkdir()  # someone's folder where the wiki's clone goes: a real failure
    code, pipeline, events = run_pipeline(_settings(sim, dest, provider, wikis=True))
    assert code == 1
    failed = [e for e in events if e["event"] == "repo_failed"]
    assert [e["repo"] for e in failed] == [f"{ORG}/{blocked}.wiki"] and failed[0]["error_class"] == "conflict"
    assert pipeline.stats.counts.no_wiki == len(empty)


# --------------------------------------------------------------------------- lean clones


@pytest.mark.parametrize("provider", PROVIDERS)
def test_partial_clones_are_valid_and_stay_partial_on_update(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    # Each repo's first commit holds a 512 KiB incompressible file that HEAD (the second commit) removed.
    sim: ForgeSim = forge_factory(org=ORG, repos=6, scenario=Scenario(repo_size_kb=512, heavy_history=True))
    dest = tmp_path / ORG
    code, _, events = run_pipeline(_settings(sim, dest, provider, filter="blob:none"))
    assert code == 0
    assert {e["kind"] for e in events if e["event"] == "repo_done"} == {"partial"}
    names = sim.repo_names(provider)
    for name in names:
        assert git_head(dest / name) == sim.head_of(name)
        assert _git(dest / name, "config", "remote.origin.partialclonefilter").strip() == "blob:none"
        assert _git(dest / name, "fsck", "--connectivity-only") is not None
        assert _git(dest / name, "rev-list", "--count", "HEAD").strip() == "2"  # the history is all there...
        assert _bytes(dest / name) < 256 * 1024  # ...but not the old file's contents
    full = tmp_path / "full"
    assert run_pipeline(_settings(sim, full, provider))[0] == 0
    assert _bytes(full / names[0]) > 512 * 1024
    pushed = sim.push_commit(names[0])
    code, _, _ = run_pipeline(_settings(sim, dest, provider, filter="blob:none", update="pull"))
    assert code == 0
    assert git_head(dest / names[0]) == pushed
    assert (dest / names[0] / "README.md").read_text().endswith("Update 1.\n")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_single_branch_and_a_missing_branch(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=4)
    dest = tmp_path / ORG
    code, _, _ = run_pipeline(_settings(sim, dest, provider, single_branch=True, branch="develop"))
    assert code == 0
    name = sim.repo_names(provider)[0]
    assert _git(dest / name, "rev-parse", "--abbrev-ref", "HEAD").strip() == "develop"
    assert _git(dest / name, "branch", "-r", "--format=%(refname:short)").split() == ["origin/develop"]

    code, pipeline, events = run_pipeline(_settings(sim, tmp_path / "other", provider, branch="no-such-branch"))
    assert code == 1
    failed = [e for e in events if e["event"] == "repo_failed"]
    assert len(failed) == len(sim.repo_names(provider))
    assert {e["error_class"] for e in failed} == {"no_branch"}
    assert "no branch 'no-such-branch'" in failed[0]["message"]
    assert pipeline.stats.counts.failed_permanent == len(failed)


# --------------------------------------------------------------------------- prune


def _sync(sim: ForgeSim, dest: Path, provider: str, **changes: Any) -> tuple[int, Any, list[dict[str, Any]]]:
    return run_pipeline(_settings(sim, dest, provider, **changes))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_prune_moves_deleted_repos_to_the_attic_and_keeps_local_work(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=50)
    dest = tmp_path / ORG
    assert _sync(sim, dest, provider)[0] == 0
    names = sim.repo_names(provider)
    clean, dirty, stashed, unpushed, detached = names[1], names[2], names[3], names[4], names[5]
    (dest / dirty / "notes.txt").write_text("mine\n")
    (dest / stashed / "README.md").write_text("changed\n")
    _git(dest / stashed, "-c", "user.name=t", "-c", "user.email=t@e", "stash")
    (dest / unpushed / "README.md").write_text("local commit\n")
    _git(dest / unpushed, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "local")
    _git(dest / detached, "checkout", "-q", "--detach")  # a commit on a detached HEAD is on no branch at all
    (dest / detached / "README.md").write_text("detached work\n")
    _git(dest / detached, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "detached")
    head_of_clean = git_head(dest / clean)
    for name in (clean, dirty, stashed, unpushed, detached):
        sim.remove_repo(name)

    code, _, events = _sync(sim, dest, provider, dry_run=True, prune=True)
    assert code == 0 and all((dest / n / ".git").is_dir() for n in (clean, dirty, stashed, unpushed, detached))
    assert any("--prune would move 1 clone" in e["message"] for e in events if e["event"] == "notice")

    code, pipeline, events = _sync(sim, dest, provider, prune=True)
    assert code == 0
    events_match_their_declarations(events)
    moved = [e for e in events if e["event"] == "repo_moved"]
    assert [e["repo"] for e in moved] == [clean]
    attic = Path(moved[0]["attic"])
    assert attic.is_relative_to(dest / ".gz-tui" / "attic") and not (dest / clean).exists()
    assert git_head(attic) == head_of_clean
    kept = {e["repo"]: e["reason"] for e in events if e["event"] == "repo_kept"}
    assert kept == {
        dirty: "uncommitted changes",
        stashed: "stashed changes",
        unpushed: "commits on no remote branch",
        detached: "commits on no remote branch",
    }
    for name in kept:
        assert (dest / name / ".git").is_dir()
    summary = next(e for e in events if e["event"] == "summary")
    assert (summary["gone"], summary["moved"], summary["kept"]) == (5, 1, 4)
    status = run_cli("status", str(dest))
    assert status.returncode == 0 and "in the attic" in status.stdout and clean in status.stdout and str(attic) in status.stdout


@pytest.mark.parametrize("provider", PROVIDERS)
def test_prune_refuses_a_suspicious_mass_prune_without_force(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=20)
    dest = tmp_path / ORG
    assert _sync(sim, dest, provider)[0] == 0
    victims = sim.repo_names(provider)[:5]
    for name in victims:
        sim.remove_repo(name)
    code, _, events = _sync(sim, dest, provider, prune=True)
    assert code == 0 and not [e for e in events if e["event"] == "repo_moved"]
    refusal = [e["message"] for e in events if e["event"] == "notice" and "not pruning" in e["message"]]
    assert refusal and "--prune-force" in refusal[0] and "5 of 20" in refusal[0] and "token that lost access" in refusal[0]
    assert all((dest / name / ".git").is_dir() for name in victims)

    code, _, events = _sync(sim, dest, provider, prune=True, prune_force=True)
    assert code == 0
    assert sorted(e["repo"] for e in events if e["event"] == "repo_moved") == sorted(victims)
    assert not any((dest / name).exists() for name in victims)


def test_prune_never_follows_a_listing_filtered_by_the_server(forge_factory: Any, tmp_path: Path) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=20)
    dest = tmp_path / ORG
    assert _sync(sim, dest, "gitlab")[0] == 0
    code, _, events = _sync(sim, dest, "gitlab", prune=True, prune_force=True, skip_archived=True)
    assert code == 0 and not [e for e in events if e["event"] == "repo_moved"]
    assert len(repo_dirs(dest)) == 20


def test_sigkill_in_the_middle_of_a_prune_leaves_every_clone_in_place_or_whole_in_the_attic(forge_factory: Any, tmp_path: Path) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=30)
    dest = tmp_path / ORG
    assert _sync(sim, dest, "github")[0] == 0
    victims = sim.repo_names()[:6]
    heads = {name: git_head(dest / name) for name in victims}
    for name in victims:
        sim.remove_repo(name)
    args = [sys.executable, "-m", "gz_tui", ORG, "--base-url", sim.base_url, "--dest", str(dest), "--token", ""]
    args += ["--json", "--prune", "--prune-force"]
    env = {**os.environ, "GZ_TUI_TEST_PRUNE_PAUSE": "2"}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    for line in process.stdout:
        if json.loads(line)["event"] == "repo_moved":
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    def where(name: str) -> list[Path]:
        found = [dest / name] if (dest / name).exists() else []
        return found + list((dest / ".gz-tui" / "attic").glob(f"*/{name}*"))

    in_attic = 0
    for name in victims:
        (place,) = where(name)  # exactly one copy: in place or in the attic
        assert git_head(place) == heads[name]
        in_attic += place.parent != dest
    assert 1 <= in_attic < len(victims), "the kill landed in the middle of the prune"

    code, _, events = _sync(sim, dest, "github", prune=True, prune_force=True)
    assert code == 0
    for name in victims:
        (place,) = where(name)
        assert place.parent != dest and git_head(place) == heads[name]
    with _store(dest) as store:
        assert sorted(rel for rel, _, _ in store.attic.entries()) == sorted(victims)
        assert store.attic.moving() == []


class _store:
    def __init__(self, dest: Path) -> None:
        self.store = StateStore(dest / ".gz-tui" / "state.sqlite3")

    def __enter__(self) -> StateStore:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()


def test_the_prune_questions_of_several_targets_are_asked_one_at_a_time() -> None:
    """Two targets reach their prune together: the dashboard shows one question, and the other waits for its answer."""
    stats = Stats(workers=1)
    questions = PruneQuestions(stats)
    answers: dict[str, bool] = {}

    async def shown(target: str | None) -> str:
        for _ in range(100):
            if stats.prune_question is not None and target in (None, stats.prune_question.target):
                return stats.prune_question.target
            await anyio.sleep(0)
        raise AssertionError(f"no question of {target or 'any target'} is shown")

    async def ask(target: str) -> None:
        answers[target] = await questions.ask(PruneQuestion(target=target, count=1, total=9, names=("old",), attic="/attic"))

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(ask, "backend")
            group.start_soon(ask, "frontend")
            first = await shown(None)
            second = "frontend" if first == "backend" else "backend"
            questions.answer(second, True)  # not the question on screen: nothing happens
            await anyio.sleep(0)
            assert stats.prune_question is not None and stats.prune_question.target == first and not answers
            questions.answer(first, True)
            await shown(second)
            assert answers == {first: True}
            questions.answer(second, False)

    anyio.run(main)
    assert set(answers.values()) == {True, False} and len(answers) == 2
    assert stats.prune_question is None


def test_a_journaled_move_that_never_happened_is_dropped_on_the_next_run(forge_factory: Any, tmp_path: Path) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=5)
    dest = tmp_path / ORG
    assert _sync(sim, dest, "github")[0] == 0
    name = sim.repo_names()[0]
    with _store(dest) as store:  # killed between the journal and the rename
        store.attic.intent("x", name, dest / name, dest / ".gz-tui" / "attic" / "2020-01-01" / name)
    assert _sync(sim, dest, "github")[0] == 0
    with _store(dest) as store:
        assert store.attic.moving() == [] and store.attic.entries() == []
    assert (dest / name / ".git").is_dir()


def test_a_version_1_state_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    StateStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE repos DROP COLUMN has_wiki")
        db.execute("ALTER TABLE repos DROP COLUMN synced_at")  # version 3's
        db.execute("ALTER TABLE repos DROP COLUMN disk_path")  # version 4's (the attic's kind goes with its table)
        db.execute("ALTER TABLE repos DROP COLUMN private")  # version 5's
        db.execute("DROP TABLE attic")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.close()
    store = StateStore(path)
    try:
        assert store.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
        assert store.attic.entries() == []
        assert "has_wiki" in {row[1] for row in store.db.execute("PRAGMA table_info(repos)")}
    finally:
        store.close()
