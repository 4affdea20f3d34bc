"""A backup you can trust (issue 24): prune moves only what is truly gone, never through a link, never local work,
never after a listing that cannot prove it is complete; repos are known by their forge id (renames, re-created names).

Real parts: the embedded forge, real git, the real pipeline and state.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gz_tui.forge_sim import ForgeSim, Scenario
from gz_tui.pipeline.state import StateStore
from tests.helpers import events_match_their_declarations, repo_dirs, run_pipeline, settings_for

ORG = "acme"
FORGES = ("github", "gitlab", "gitea")


def _sync(sim: ForgeSim, dest: Path, provider: str, **changes: Any) -> tuple[int, Any, list[dict[str, Any]]]:
    return run_pipeline(settings_for(sim, dest, provider=provider, base_url=sim.api_url(provider), **changes))


def _git(path: Path, *args: str) -> str:
    command = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@e", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _of(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name]


def _summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    return _of(events, "summary")[-1]


# --------------------------------------------------------------------------- no path through a link


@pytest.mark.parametrize("provider", FORGES)
@pytest.mark.parametrize("planted", ["attic", "dated"])
def test_a_link_planted_in_the_attic_path_stops_the_prune_and_nothing_moves(
    forge_factory: Any, tmp_path: Path, provider: str, planted: str
) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=20)
    dest = tmp_path / ORG
    assert _sync(sim, dest, provider)[0] == 0
    victim = sim.repo_names(provider)[3]
    sim.remove_repo(victim)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    attic = dest / ".gz-tui" / "attic"
    if planted == "attic":
        attic.symlink_to(elsewhere)
        link = attic
    else:
        attic.mkdir()
        link = attic / time.strftime("%Y-%m-%d")
        link.symlink_to(elsewhere)
    code, _, events = _sync(sim, dest, provider, prune=True)
    assert code == 1
    events_match_their_declarations(events)
    assert not _of(events, "repo_moved")
    refused = _of(events, "prune_refused")
    assert [e["reason"] for e in refused] == ["link"] and str(link) in refused[0]["message"]
    assert "\n" not in refused[0]["message"]
    assert (dest / victim / ".git").is_dir() and list(elsewhere.iterdir()) == []
    assert _summary(events)["moved"] == 0


def test_a_link_planted_at_the_moment_of_the_move_is_not_followed(tmp_path: Path) -> None:
    from gz_tui.pipeline.moves import LinkInPath, move_folder

    dest = tmp_path / "dest"
    (dest / "repo").mkdir(parents=True)
    (dest / ".gz-tui").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (dest / ".gz-tui" / "attic").symlink_to(elsewhere)
    with pytest.raises(LinkInPath, match="attic is a symbolic link"):
        move_folder(dest, dest / "repo", dest / ".gz-tui" / "attic" / "2026-01-01" / "repo")
    (dest / "linked").symlink_to(dest / "repo")
    with pytest.raises(LinkInPath, match="linked is a symbolic link"):
        move_folder(dest, dest / "linked", dest / "moved")
    assert (dest / "repo").is_dir() and list(elsewhere.iterdir()) == []
    move_folder(dest, dest / "repo", dest / "a" / "b" / "repo")
    assert (dest / "a" / "b" / "repo").is_dir() and not (dest / "repo").exists()


# --------------------------------------------------------------------------- local work, all of it


@pytest.mark.parametrize("provider", FORGES)
def test_every_kind_of_local_work_keeps_a_gone_clone_in_place(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=60)
    dest = tmp_path / ORG
    assert _sync(sim, dest, provider)[0] == 0
    names = sim.repo_names(provider)
    clean, untracked, tagged, branched, worktree, mixed = names[1:7]
    (dest / untracked / "notes.txt").write_text("mine\n")
    _git(dest / tagged, "checkout", "-q", "--detach")
    (dest / tagged / "README.md").write_text("tagged work\n")
    _git(dest / tagged, "commit", "-qam", "tagged")
    _git(dest / tagged, "tag", "mine")
    _git(dest / tagged, "checkout", "-q", "-")  # back on the branch: the tag alone holds the commit
    _git(dest / branched, "branch", "feature")  # a local branch the forge never had, at a pushed commit
    linked = tmp_path / "elsewhere" / "linked"
    _git(dest / worktree, "worktree", "add", "-q", "--detach", str(linked))
    (dest / mixed / "notes.txt").write_text("mine\n")
    _git(dest / mixed, "branch", "topic")
    for name in (clean, untracked, tagged, branched, worktree, mixed):
        sim.remove_repo(name)

    code, _, events = _sync(sim, dest, provider, prune=True, prune_force=True)
    assert code == 0
    events_match_their_declarations(events)
    assert [e["repo"] for e in _of(events, "repo_moved")] == [clean]
    kept = {e["repo"]: e["reason"] for e in _of(events, "repo_kept")}
    assert kept == {
        untracked: "uncommitted changes",
        tagged: "tags on no remote branch",
        branched: "local branch feature",
        worktree: "linked worktree",
        mixed: "uncommitted changes, local branch topic",
    }
    for name in kept:
        assert (dest / name / ".git").is_dir()
    assert _git(linked, "status", "--porcelain") == ""  # the worktree still points at its repo, in place
    assert "mine" in _git(dest / tagged, "tag", "--list").split()


# --------------------------------------------------------------------------- credentials that degrade

TOKEN = "s3cret-token"


@pytest.mark.parametrize("provider", FORGES)
def test_a_token_the_forge_answers_as_anonymous_fails_the_run_before_anything_is_listed(
    forge_factory: Any, tmp_path: Path, provider: str
) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=40, token=TOKEN, scenario=Scenario(bad_token_as_anonymous=True))
    dest = tmp_path / ORG
    code, _, events = _sync(sim, dest, provider, token=TOKEN)
    assert code == 0 and _summary(events)["listed"] == 40
    before = {p.name for p in dest.iterdir()}
    sim.clear_log()

    code, _, events = _sync(sim, dest, provider, token="revoked-token", prune=True, prune_force=True)
    assert code == 2
    events_match_their_declarations(events)
    failed = _of(events, "listing_failed")
    assert len(failed) == 1 and "rejected the credentials" in failed[0]["message"]
    assert "nothing is listed, cloned or pruned as anonymous" in failed[0]["message"]
    assert "revoked-token" not in str(events)
    assert not _of(events, "repo_moved") and not _of(events, "page") and _summary(events)["listed"] == 0
    assert {p.name for p in dest.iterdir()} == before
    paths = [r.path.split("?")[0] for r in sim.api_requests()]
    assert len(paths) == 1 and paths[0].endswith("/user")  # the one "who am I", nothing listed
    assert not [r for r in sim.requests() if r.kind == "git"]


@pytest.mark.parametrize("provider", FORGES)
def test_a_good_token_costs_one_who_am_i_request(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=5, token=TOKEN, scenario=Scenario(bad_token_as_anonymous=True))
    code, _, events = _sync(sim, tmp_path / ORG, provider, token=TOKEN)
    assert code == 0 and _summary(events)["listed"] == 5
    assert sum(1 for r in sim.api_requests() if r.path.split("?")[0].endswith("/user")) == 1


# --------------------------------------------------------------------------- prune confirms each candidate

LOOKUP = {"github": "/repositories/", "gitlab": "/api/v4/projects/", "gitea": "/api/v1/repositories/"}


def _lookups(sim: ForgeSim, provider: str) -> list[str]:
    return [r.path for r in sim.api_requests() if r.path.startswith(LOOKUP[provider]) and r.path[len(LOOKUP[provider]) :].isdigit()]


@pytest.mark.parametrize("provider", FORGES)
def test_prune_asks_the_forge_about_each_clone_once_and_moves_only_the_deleted(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=30)
    dest = tmp_path / ORG
    assert _sync(sim, dest, provider)[0] == 0
    victims = sim.repo_names(provider)[2:4]
    ids = {name: sim.repo_id(name) for name in victims}
    for name in victims:
        sim.remove_repo(name)
    sim.clear_log()
    code, _, events = _sync(sim, dest, provider, prune=True, prune_force=True)
    assert code == 0
    assert sorted(e["repo"] for e in _of(events, "repo_moved")) == sorted(victims)
    assert sorted(_lookups(sim, provider)) == sorted(f"{LOOKUP[provider]}{ids[name]}" for name in victims)


@pytest.mark.parametrize("provider", FORGES)
def test_after_fresh_a_clone_whose_recorded_id_is_not_listed_is_reported_gone_and_pruned(
    forge_factory: Any, tmp_path: Path, provider: str
) -> None:
    """The state forgotten (``--fresh``), the clones on disk are still known by the id recorded in each: one whose
    repo the forge no longer lists is reported gone, and moved with --prune once the forge confirms it; a folder of
    the user's own (no recorded id) is not gz-tui's to judge and stays."""
    sim: ForgeSim = forge_factory(org=ORG, repos=12)
    dest = tmp_path / ORG
    assert _sync(sim, dest, provider)[0] == 0
    victim = sim.repo_names(provider)[4]
    sim.remove_repo(victim)
    own = dest / "my-notes"
    own.mkdir()
    _git(own, "init", "-q")
    code, _, events = _sync(sim, dest, provider, fresh=True)
    assert code == 0
    assert _summary(events)["gone"] == 1
    notices = " ".join(e.get("message", "") for e in _of(events, "notice"))
    assert victim in notices and "my-notes" not in notices
    assert (dest / victim / ".git").is_dir()  # reported only: no --prune
    code, _, events = _sync(sim, dest, provider, fresh=True, prune=True, prune_force=True)
    assert code == 0
    assert [e["repo"] for e in _of(events, "repo_moved")] == [victim]
    assert not (dest / victim).exists() and (own / ".git").is_dir()
    assert repo_dirs(dest) == {*sim.repo_names(provider), "my-notes"}  # the 11 listed clones and the user's own


@pytest.mark.parametrize("provider", FORGES)
def test_a_deletion_while_the_listing_pages_moves_nothing(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=110)
    dest = tmp_path / ORG
    assert _sync(sim, dest, provider)[0] == 0
    clones = sorted(p.name for p in dest.iterdir() if p.name != ".gz-tui")
    sim.push_commit(sim.repo_names(provider)[5])  # page 1 changes: answered whole, not 304 (a 304 serves no deletion)
    sim.remove_repo_after_page(1)  # the first repo, behind the cursor: one surviving repo slips past the walk
    code, _, events = _sync(sim, dest, provider, prune=True, prune_force=True)
    assert code in (0, 1)
    events_match_their_declarations(events)
    assert not _of(events, "repo_moved")
    assert sorted(p.name for p in dest.iterdir() if p.name != ".gz-tui") == clones
    kept = {e["repo"]: e["reason"] for e in _of(events, "repo_kept")}
    refused = _of(events, "prune_refused")
    if provider == "gitlab":  # GitLab pages by id_after: a deletion behind the cursor shifts no later repo
        assert kept == {} and refused == []
    else:
        assert list(kept.values()) == ["still on the forge (the listing missed it)"] or [e["reason"] for e in refused] == ["incomplete"]


# --------------------------------------------------------------------------- a listing proves it is complete


@pytest.mark.parametrize("provider", ["gitea"])  # GitLab pages by id_after: a deletion mid-listing skips no repo there
def test_a_listing_with_fewer_repos_than_the_forge_states_refuses_prune(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=110)
    dest = tmp_path / ORG
    code, _, events = _sync(sim, dest, provider)
    assert code == 0 and _summary(events)["expected"] == _summary(events)["listed"] == 110
    sim.push_commit(sim.repo_names(provider)[5])
    sim.remove_repo_after_page(1)
    code, _, events = _sync(sim, dest, provider, prune=True, prune_force=True)
    summary = _summary(events)
    assert (summary["listed"], summary["expected"]) == (109, 110)
    refused = _of(events, "prune_refused")
    assert [e["reason"] for e in refused] == ["incomplete"] and "109 repos but the forge says acme has 110" in refused[0]["message"]
    assert not _of(events, "repo_moved") and not _lookups(sim, provider)  # refused before asking about any clone
    status = subprocess.run([sys.executable, "-m", "gz_tui", "status", str(dest)], capture_output=True, text=True, timeout=60, check=False)
    assert status.returncode == 0 and "listed 109 · expected 110 (the forge's own count) · incomplete: --prune refused" in status.stdout


def _private(sim: ForgeSim) -> set[str]:
    return {name for name in sim.repo_names() if sim.is_private(name)}


@pytest.mark.parametrize("provider", [*FORGES, "bitbucket", "bitbucket-server", "gogs"])
def test_a_listing_that_lost_sight_of_every_private_repo_refuses_prune(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    """The nightly job whose token variable went missing lists the public repos only: its private clones are kept."""
    # A request without a token is served as anonymous (as every real forge does), the public repos only.
    sim: ForgeSim = forge_factory(org=ORG, repos=40, token=TOKEN, scenario=Scenario(bad_token_as_anonymous=True))
    dest = tmp_path / ORG
    code, _, events = _sync(sim, dest, provider, token=TOKEN)
    assert code == 0 and _summary(events)["listed"] == 40
    private = [e["repo"].removeprefix(f"{ORG}/") for e in _of(events, "repo_done") if e["repo"].split("/")[-1] in _private(sim)]
    assert len(private) == 8

    code, _, events = _sync(sim, dest, provider, token="", prune=True)
    assert code == 0 and _summary(events)["listed"] == 32 and _summary(events)["gone"] == 8
    refused = _of(events, "prune_refused")
    assert [e["reason"] for e in refused] == ["visibility"], refused
    assert "no private repo, but 8 private repos listed before are missing" in refused[0]["message"]
    assert not _of(events, "repo_moved") and all((dest / name / ".git").is_dir() for name in private), private

    code, _, events = _sync(sim, dest, provider, token=TOKEN, prune=True)  # the token back: nothing is gone
    assert code == 0 and not _of(events, "prune_refused") and _summary(events)["gone"] == 0


def test_github_states_its_count_when_a_prune_depends_on_it(forge_factory: Any, tmp_path: Path) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=12, token=TOKEN)
    code, _, events = _sync(sim, tmp_path / ORG, "github", prune=True, token=TOKEN)
    summary = _summary(events)
    assert code == 0 and summary["expected"] == summary["listed"] == 12  # one page, yet /orgs/acme was asked
    assert not _of(events, "prune_refused")


# --------------------------------------------------------------------------- identity by forge id


def _renamed(old: str) -> str:
    return old.rsplit("/", 1)[0] + "/renamed-7" if "/" in old else "renamed-7"


@pytest.mark.parametrize("provider", FORGES)
def test_a_repo_renamed_upstream_has_its_clone_moved_and_nothing_fetched_again(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=20)
    dest = tmp_path / ORG
    assert _sync(sim, dest, provider)[0] == 0
    old = sim.repo_names(provider)[7]
    head = _git(dest / old, "rev-parse", "HEAD").strip()
    sim.rename_repo(old, "renamed-7")
    new = _renamed(old)
    sim.clear_log()
    code, _, events = _sync(sim, dest, provider, prune=True)
    assert code == 0
    events_match_their_declarations(events)
    assert [(e["old"], e["new"]) for e in _of(events, "repo_renamed")] == [(old, new)]
    assert not (dest / old).exists() and _git(dest / new, "rev-parse", "HEAD").strip() == head
    assert _summary(events)["renamed"] == 1 and _summary(events)["gone"] == 0 and _summary(events)["cloned"] == 0
    fetched = [r.path for r in sim.requests() if r.kind == "git" and r.method == "POST"]
    assert not [path for path in fetched if f"/{old}.git" in path or f"/{new}.git" in path]  # no pack asked for
    sim.push_commit(new)
    code, _, events = _sync(sim, dest, provider, prune=True)
    assert code == 0 and not _of(events, "repo_renamed")
    assert _git(dest / new, "rev-parse", "origin/main").strip() == sim.head_of(new)  # its origin follows the new name


@pytest.mark.parametrize("provider", FORGES)
def test_a_name_reused_by_a_new_repo_sends_the_old_clone_to_the_attic_once(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=20)
    dest = tmp_path / ORG
    assert _sync(sim, dest, provider)[0] == 0
    name = sim.repo_names(provider)[4]
    old_head = _git(dest / name, "rev-parse", "HEAD").strip()
    sim.recreate_repo(name)
    moves: list[dict[str, Any]] = []
    for _ in range(5):
        code, _, events = _sync(sim, dest, provider, prune=True, prune_force=True)
        assert code in (0, 1)
        moves += _of(events, "repo_moved")
    assert [e["repo"] for e in moves] == [name]
    assert _git(Path(moves[0]["attic"]), "rev-parse", "HEAD").strip() == old_head
    assert _git(dest / name, "rev-parse", "HEAD").strip() == sim.head_of(name) != old_head
    assert code == 0 and len(list((dest / ".gz-tui" / "attic").glob(f"*/{name}*"))) == 1


@pytest.mark.slow
def test_kill_9_at_random_moments_of_a_run_that_renames_and_prunes_loses_nothing(forge_factory: Any, tmp_path: Path) -> None:
    """Every clone afterwards is at its path, whole in the attic, or untouched: never lost, never twice."""
    sim: ForgeSim = forge_factory(org=ORG, repos=30)
    dest = tmp_path / ORG
    assert _sync(sim, dest, "github")[0] == 0
    names = sim.repo_names()
    gone, renamed = names[2:6], {name: f"{name}-new" for name in names[10:13]}
    heads = {name: _git(dest / name, "rev-parse", "HEAD").strip() for name in [*gone, *renamed]}
    for name in gone:
        sim.remove_repo(name)
    for old, new in renamed.items():
        sim.rename_repo(old, new)
    attic = dest / ".gz-tui" / "attic"

    def copies(*paths: str) -> list[Path]:
        found = [dest / path for path in paths if (dest / path).exists()]
        return found + [p for path in paths for p in attic.glob(f"*/{path}")] if attic.exists() else found

    def check() -> None:
        for name in gone:
            (place,) = copies(name)
            assert _git(place, "rev-parse", "HEAD").strip() == heads[name]
        for old, new in renamed.items():
            (place,) = copies(old, new)
            assert place.parent == dest and _git(place, "rev-parse", "HEAD").strip() == heads[old]

    args = [sys.executable, "-m", "gz_tui", ORG, "--base-url", sim.base_url, "--dest", str(dest), "--token", ""]
    args += ["--json", "--prune", "--prune-force", "--workers", "2"]
    env = {**os.environ, "GZ_TUI_TEST_PRUNE_PAUSE": "0.3"}
    chance = random.Random(24)
    for _ in range(4):
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, stdin=subprocess.DEVNULL)
        time.sleep(chance.uniform(0.3, 2.5))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        check()
    code, _, events = _sync(sim, dest, "github", prune=True, prune_force=True)
    assert code == 0
    check()
    for name in gone:
        (place,) = copies(name)
        assert place.parent.parent == attic
    assert all((dest / new).is_dir() and not (dest / old).exists() for old, new in renamed.items())
    store = StateStore(dest / ".gz-tui" / "state.sqlite3")
    try:
        assert store.attic.moving() == [] and sorted(rel for rel, _, _ in store.attic.entries()) == sorted(gone)
    finally:
        store.close()


@pytest.mark.parametrize(("limit", "prune", "asked"), [(None, False, True), (40, False, False), (40, True, True)])
def test_githubs_count_is_asked_beside_the_listing_and_not_while_the_quota_is_short(
    forge_factory: Any, tmp_path: Path, limit: int | None, prune: bool, asked: bool
) -> None:
    """The count is the dashboard's and prune's, never worth a page's slot: with 39 requests left it is not asked,
    unless a prune depends on it."""
    sim: ForgeSim = forge_factory(org=ORG, repos=250, token=TOKEN, scenario=Scenario(primary_limit=limit))
    code, _, events = _sync(sim, tmp_path / ORG, "github", token=TOKEN, dry_run=not prune, prune=prune)
    assert code == 0 and _summary(events)["listed"] == 250
    counts = [r for r in sim.api_requests() if r.path.split("?")[0] == f"/orgs/{ORG}"]
    assert len(counts) == int(asked)
    assert _summary(events).get("expected") == (250 if asked else None)
