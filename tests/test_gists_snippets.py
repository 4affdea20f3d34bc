"""``--gists USER`` (GitHub) and ``--snippets OWNER`` (GitLab): each gist or snippet is a git repo of its own, cloned at
``DEST/ID`` in a destination of its own (``OWNER+gists``, ``OWNER+snippets``), synced like any target: a first run, a
run killed and resumed, a re-sync that fetches only what was edited (``updated_at``), and a prune that moves a deleted
one to the attic once the forge confirms it gone (``/gists/ID``, ``/projects/:id/snippets/:sid``, ``/snippets/:sid``:
404) and never anything else.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gz_tui.config import Settings
from gz_tui.config.settings import validate
from gz_tui.forge_sim import ForgeSim
from gz_tui.forge_sim.scenario import Scenario
from gz_tui.forges.github import GitHub
from gz_tui.forges.records import RemoteRepo
from gz_tui.pipeline.paths import UnsafeRepo, clone_url_for
from gz_tui.tui.format import short_target_labels
from tests.conftest import run_cli
from tests.helpers import repo_dirs, run_cancelled_when, run_pipeline, settings_for

TOKEN = "pastes-test-token-7c1d2e3f4a"


def paste_settings(sim: Any, dest: Path, provider: str, **changes: Any) -> Settings:
    kind: dict[str, Any] = {"gists": True} if provider == "github" else {"snippets": True}
    owner = sim.token_user if provider == "github" else "acme"
    values = dict(owner=owner, provider=provider, base_url=sim.api_url(provider), workers=3, token=TOKEN, **kind)
    return settings_for(sim, dest, **(values | changes))


def failures(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["repo"], e["message"]) for e in events if e["event"] == "repo_failed"]


def fetched(sim: ForgeSim, ids: list[str]) -> set[str]:
    """The pastes whose git the forge served a pack for (a clone or a fetch: ``git-upload-pack`` POSTs)."""
    found = set()
    for record in sim.requests():
        if record.kind == "git" and record.method == "POST":
            found |= {paste for paste in ids if f"/{paste}.git/" in record.path}
    return found


def remote_head(clone: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "origin/main"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


@pytest.fixture
def gist_forge(forge_factory: Any) -> ForgeSim:
    sim: ForgeSim = forge_factory(org="acme", repos=4, token=TOKEN, scenario=Scenario(gists=7))
    return sim


@pytest.fixture
def snippet_forge(forge_factory: Any) -> ForgeSim:
    sim: ForgeSim = forge_factory(org="acme", repos=6, token=TOKEN, scenario=Scenario(snippets=5))
    return sim


def test_gists_are_cloned_resynced_and_pruned(gist_forge: ForgeSim, tmp_path: Path) -> None:
    sim, dest = gist_forge, tmp_path / "gists"
    gists = sim.gist_ids()
    settings = paste_settings(sim, dest, "github")
    assert settings.name == "forge-sim-user+gists", "never the name (nor the folder) of the user's own repos"

    code, _, events = run_pipeline(settings)
    assert code == 0, failures(events)
    assert repo_dirs(dest) == set(gists), "every gist at DEST/ID, the secret ones too (the user's own token)"
    secret = [g for g in gists if not sim.is_public_paste("gist", g)]
    assert secret, "the scenario has secret gists"
    summary = events[-1]
    assert (summary["listed"], summary["cloned"]) == (7, 7)
    assert (dest / gists[0] / "README.md").read_text().startswith("# ")

    # Re-sync: nothing moved, nothing fetched; then one edited gist is fetched, and only it.
    code, _, events = run_pipeline(settings)
    assert code == 0 and events[-1]["unchanged"] == 7
    sim.edit_paste("gist", gists[2])
    sim.clear_log()
    code, _, events = run_pipeline(settings)
    assert code == 0, failures(events)
    assert (events[-1]["updated"], events[-1]["unchanged"]) == (1, 6)
    assert fetched(sim, gists) == {gists[2]}
    assert remote_head(dest / gists[2]) == sim.paste_head("gist", gists[2])

    # A deleted gist moves to the attic once /gists/ID says 404; a new one is cloned; the others stay.
    sim.remove_paste("gist", gists[4])
    new = sim.add_paste("gist")
    code, _, events = run_pipeline(paste_settings(sim, dest, "github", prune=True, prune_limit=50))
    assert code == 0, failures(events)
    summary = events[-1]
    assert (summary["cloned"], summary["gone"], summary["moved"]) == (1, 1, 1), summary
    (moved,) = [e for e in events if e["event"] == "repo_moved"]
    assert moved["repo"] == gists[4] and (Path(moved["attic"]) / "README.md").is_file()
    assert repo_dirs(dest) == (set(gists) - {gists[4]}) | {new}
    lookups = [r.path for r in sim.api_requests() if r.path.startswith("/gists/")]
    assert lookups == [f"/gists/{gists[4]}"], "one lookup, for the one gist the listing lacked"


def test_without_the_users_token_only_public_gists_and_nothing_secret_pruned(forge_factory: Any, tmp_path: Path) -> None:
    """Without their token only the public gists are listed (``/users/U/gists``); the secret clones stay, asked about one
    by one (``/gists/ID`` answers anyone who knows the id)."""
    sim: ForgeSim = forge_factory(org="acme", repos=4, scenario=Scenario(gists=7))  # a forge that takes any token
    dest = tmp_path / "gists"
    gists = sim.gist_ids()
    public = {g for g in gists if sim.is_public_paste("gist", g)}
    code, _, _ = run_pipeline(paste_settings(sim, dest, "github"))
    assert code == 0 and repo_dirs(dest) == set(gists)
    other_user = paste_settings(sim, dest, "github", token=None, prune=True, prune_force=True)
    code, _, events = run_pipeline(other_user)
    assert code == 0
    assert any("secret ones too" in e.get("message", "") for e in events if e["event"] == "notice"), events
    assert events[-1]["moved"] == 0, "a secret gist missing from the public listing still exists: never pruned"
    assert repo_dirs(dest) == set(gists) and len(public) < len(gists)


def test_project_and_personal_snippets_are_cloned_resynced_and_pruned(forge_factory: Any, tmp_path: Path) -> None:
    sim: ForgeSim = forge_factory(org="acme", repos=6, token=TOKEN, scenario=Scenario(snippets=5, personal_snippets=2))
    dest = tmp_path / "snippets"
    project_snippets = [s for name in sim.repo_names("gitlab") for s in sim.snippet_ids(name)]
    personal = sim.snippet_ids(None)
    assert len(project_snippets) == 5 and len(personal) == 2

    # A group: its projects' snippets (private ones too: the token sees them), never the token user's personal ones.
    group = paste_settings(sim, dest, "gitlab")
    assert group.name == "acme+snippets"
    code, _, events = run_pipeline(group)
    assert code == 0, failures(events)
    assert repo_dirs(dest) == set(project_snippets)
    shown = {e["repo"] for e in events if e["event"] == "repo_done"}
    first = sim.repo_names("gitlab")[0]
    assert f"acme/{first}${sim.snippet_ids(first)[0]}" in shown, shown

    # Re-sync: unchanged; an edited snippet alone is fetched.
    code, _, events = run_pipeline(group)
    assert code == 0 and events[-1]["unchanged"] == 5
    sim.edit_paste("snippet", project_snippets[1])
    sim.clear_log()
    code, _, events = run_pipeline(group)
    assert code == 0 and (events[-1]["updated"], events[-1]["unchanged"]) == (1, 4), failures(events)
    assert fetched(sim, project_snippets) == {project_snippets[1]}

    # Prune: a deleted snippet, and the snippets of a deleted project, go to the attic; the rest stay.
    sim.remove_paste("snippet", project_snippets[0])
    victim = next(name for name in sim.repo_names("gitlab") if sim.snippet_ids(name) and project_snippets[0] not in sim.snippet_ids(name))
    gone_with_project = set(sim.snippet_ids(victim))
    sim.remove_repo(victim)
    code, _, events = run_pipeline(paste_settings(sim, dest, "gitlab", prune=True, prune_force=True))
    assert code == 0, failures(events)
    assert events[-1]["moved"] == 1 + len(gone_with_project)
    assert repo_dirs(dest) == set(project_snippets) - {project_snippets[0]} - gone_with_project


def test_a_users_personal_snippets_need_their_own_token(forge_factory: Any, tmp_path: Path) -> None:
    """``--snippets USER``: the user's projects' snippets, and with their own token their personal ones too."""
    sim: ForgeSim = forge_factory(
        org="forge-sim-user", owner_kind="user", repos=4, token=TOKEN, scenario=Scenario(snippets=3, personal_snippets=2)
    )
    dest = tmp_path / "mine"
    settings = paste_settings(sim, dest, "gitlab", owner=sim.token_user)
    code, _, events = run_pipeline(settings)
    assert code == 0, failures(events)
    wanted = {s for name in sim.repo_names("gitlab") for s in sim.snippet_ids(name)} | set(sim.snippet_ids(None))
    assert repo_dirs(dest) == wanted and len(wanted) == 5
    assert f"${sim.snippet_ids(None)[0]}" in {e["repo"] for e in events if e["event"] == "repo_done"}
    sim.remove_paste("snippet", sim.snippet_ids(None)[0])
    code, _, events = run_pipeline(paste_settings(sim, dest, "gitlab", owner=sim.token_user, prune=True, prune_force=True))
    assert code == 0 and events[-1]["moved"] == 1, failures(events)


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_a_killed_run_resumes_and_clones_nothing_twice(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    """GitLab's walk is slowed (API latency) so the run is killed mid-walk: the resumed run continues from the cursor
    (a ``/projects/:id/snippets`` URL whose fragment holds the rest of the walk), not from the top."""
    scenario = Scenario(gists=9) if provider == "github" else Scenario(snippets=9, latency=0.4)
    sim: ForgeSim = forge_factory(org="acme", repos=9, token=TOKEN, scenario=scenario)
    ids = sim.gist_ids() if provider == "github" else sim.all_snippet_ids()
    dest = tmp_path / "pastes"
    settings = paste_settings(sim, dest, provider, workers=1)
    code, events = run_cancelled_when(settings, lambda seen: sum(e["event"] == "repo_done" for e in seen) >= 3)
    assert code == 130
    first = sum(1 for e in events if e["event"] == "repo_done" and e["outcome"] == "cloned")
    assert 3 <= first < 9
    sim.clear_log()
    code, _, events = run_pipeline(settings)
    assert code == 0, failures(events)
    summary = events[-1]
    assert summary["cloned"] == 9 - first and summary["resumed_done"] == first
    assert repo_dirs(dest) == set(ids)
    if provider == "gitlab":
        (resumed,) = [e for e in events if e["event"] == "resume"]
        assert resumed["listing_done"] is False, "killed mid-walk"
        asked = [r.path.partition("?")[0] for r in sim.api_requests()]
        assert not any(path.endswith("/groups/acme/projects") for path in asked), "resumed from the cursor, not the top"


def test_the_snippets_walk_visits_each_project_once_and_resumes_from_its_url(forge_factory: Any, tmp_path: Path) -> None:
    """GitLab: one page of projects, then one ``/projects/:id/snippets`` per project (never twice), in one chain of page
    URLs the journal keeps; the chain's own place rides in the URL fragment, which is never sent to the forge."""
    sim: ForgeSim = forge_factory(org="acme", repos=7, token=TOKEN, scenario=Scenario(snippets=4))
    code, _, events = run_pipeline(paste_settings(sim, tmp_path / "s", "gitlab"))
    assert code == 0, failures(events)
    asked = [r.path.partition("?")[0] for r in sim.api_requests()]
    per_project = [path for path in asked if path.endswith("/snippets") and "/projects/" in path]
    assert len(per_project) == len(set(per_project)) == 7, asked
    assert not any("#" in path or "rest=" in path for path in asked)
    assert not any(path.startswith("/api/v4/snippets") for path in asked), "a group's walk asks for no personal snippets"


def test_the_state_keeps_gists_apart_from_repos(gist_forge: ForgeSim, tmp_path: Path) -> None:
    """Each gist's key is ``gist:ID`` (never a repo's id); a destination of the user's repos refuses their gists (and
    the other way round), so no prune of one takes the other's for gone."""
    sim, dest = gist_forge, tmp_path / "gists"
    code, _, _ = run_pipeline(paste_settings(sim, dest, "github"))
    assert code == 0
    with sqlite3.connect(dest / ".gz-tui" / "state.sqlite3") as db:
        keys = {row[0] for row in db.execute("SELECT key FROM repos")}
    assert keys == {f"gist:{g}" for g in sim.gist_ids()}
    code, _, events = run_pipeline(paste_settings(sim, dest, "github", gists=False))
    assert code == 2
    assert any("holds the gists" in e.get("message", "") for e in events), events[-3:]


def test_secrets_stay_out_of_argv_config_state_and_logs(forge_factory: Any, tmp_path: Path) -> None:
    """A gists run from the command line: the token is in no git child's argv, no file under DEST (``.git/config``,
    the state), the log, stdout or stderr. Git answers slowly here, so its children live long enough to be seen."""
    sim: ForgeSim = forge_factory(org="acme", repos=2, token=TOKEN, scenario=Scenario(gists=4, git_latency=0.3))
    env = {**os.environ, "GH_TOKEN": TOKEN, "GZ_TUI_LOG_DIR": str(tmp_path / "logs")}
    argv = [sys.executable, "-m", "gz_tui", "--gists", sim.token_user, "--base-url", sim.base_url, "--json", "--workers", "2"]
    process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    git_seen, leaked = 0, []
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            try:
                cmdline = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
            except OSError:
                continue
            if os.path.basename(cmdline.split(b"\0")[0]).startswith(b"git"):
                git_seen += 1
                leaked += [cmdline] if TOKEN.encode() in cmdline else []
        time.sleep(0.01)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    dest = tmp_path / "forge-sim-user+gists"
    assert repo_dirs(dest) == set(sim.gist_ids())
    assert git_seen > 0 and leaked == [], "the token reached a git child's command line"
    assert TOKEN.encode() not in out + err
    files = [path for path in [*dest.rglob("*"), *(tmp_path / "logs").rglob("*")] if path.is_file()]
    assert any(path.name == "config" for path in files) and any(path.name == "gz-tui.log" for path in files)
    assert [path for path in files if TOKEN.encode() in path.read_bytes()] == []
    status = run_cli("status", str(dest))
    assert status.returncode == 0 and "the gists of forge-sim-user (--gists)" in status.stdout, status.stdout


def test_github_gists_are_cloned_from_the_gist_host_only() -> None:
    """github.com serves a gist's git at gist.github.com: a gists listing's clone URLs may name that one host besides
    the API's, over https, and no other."""
    provider = GitHub("https://api.github.com", "octocat", gists=True)
    host = provider.extra_git_host
    assert host == "gist.github.com"
    assert GitHub("https://api.github.com", "octocat").extra_git_host is None, "a repo listing: github.com only"
    assert GitHub("https://ghe.example.com/api/v3", "octocat", gists=True).extra_git_host is None, "GHES: /gist/ID.git"

    def url(clone_url: str) -> str:
        repo = RemoteRepo(key="gist:1", full_name="octocat/1", rel_path="1", clone_url=clone_url)
        return clone_url_for(repo, api_base="https://api.github.com", protocol="https", allow_http=False, extra_host=host)

    assert url("https://gist.github.com/aa5a315d61ae9438b18d.git") == "https://gist.github.com/aa5a315d61ae9438b18d.git"
    for bad in (
        "https://gist.evil.example/x.git",
        "http://gist.github.com/x.git",
        "https://gist.github.com:8443/x.git",
        "https://x@gist.github.com/y.git",
    ):
        with pytest.raises(UnsafeRepo):
            url(bad)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"provider": "gitea", "gists": True}, "gitea has none (GitHub does)"),
        ({"provider": "github", "snippets": True}, "github has none (GitLab does)"),
        ({"provider": "github", "gists": True, "starred": True}, "choose one"),
        ({"provider": "gitlab", "snippets": True, "topics": ("x",)}, "--topic selects among repos"),
        ({"provider": "github", "gists": True, "wikis": True}, "--wikis selects among repos"),
        ({"provider": "github", "gists": True, "protocol": "ssh"}, "over https"),
    ],
)
def test_gists_and_snippets_where_they_cannot_be_is_one_line(changes: dict[str, Any], words: str) -> None:
    problem = validate(Settings(**{"owner": "me", **changes}))
    assert problem is not None and words in problem and "\n" not in problem


def test_the_forge_serves_gists_and_snippets_paged_as_the_real_ones(forge_factory: Any) -> None:
    sim: ForgeSim = forge_factory(org="acme", repos=3, token=TOKEN, scenario=Scenario(gists=5, personal_snippets=3))
    with httpx.Client(timeout=10) as client:
        url: str | None = f"{sim.base_url}/users/{sim.token_user}/gists?per_page=2"
        seen: list[str] = []
        while url:
            response = client.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 200
            seen += [g["id"] for g in response.json()]
            url = response.links.get("next", {}).get("url")
        public = [g for g in reversed(sim.gist_ids()) if sim.is_public_paste("gist", g)]
        assert seen == public, "newest first, public ones only, even to the user's own token"
        mine = client.get(f"{sim.base_url}/gists?per_page=100", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert {g["id"] for g in mine} == set(sim.gist_ids())
        gist = sim.gist_ids()[0]
        assert client.get(f"{sim.base_url}/gists/{gist}", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        sim.remove_paste("gist", gist)
        assert client.get(f"{sim.base_url}/gists/{gist}", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
        personal = client.get(f"{sim.base_url}/api/v4/snippets", headers={"PRIVATE-TOKEN": TOKEN})
        assert [s["http_url_to_repo"].rsplit("/", 1)[1] for s in personal.json()] == [f"{s}.git" for s in sim.snippet_ids(None)]
        assert client.get(f"{sim.base_url}/api/v4/snippets").status_code == 401, "GitLab: /snippets needs a user"


def test_the_dashboard_tells_an_owners_repos_from_their_gists() -> None:
    labels = short_target_labels([("octocat", "github", "octocat"), ("octocat+gists", "github", "octocat"), ("acme", "gitlab", "acme")])
    assert labels == {"octocat": "octocat", "octocat+gists": "octocat+gists", "acme": "acme"}


def test_the_config_file_keeps_an_owners_gists_beside_their_repos(tmp_path: Path) -> None:
    from gz_tui.config import resolve_targets

    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[defaults]\ndest_root = "/srv"\n[targets.octocat]\n'
        '[targets.octocat-gists]\nowner = "octocat"\ngists = true\n'
        '[targets.team]\nowner = "team"\nprovider = "gitlab"\nsnippets = true\n'
    )
    repos, gists, snippets = resolve_targets({}, (), {"GZ_TUI_CONFIG": str(cfg), "PATH": ""})
    assert (repos.settings.listing, gists.settings.listing, snippets.settings.listing) == ("repos", "gists", "snippets")
    assert gists.settings.owner == "octocat" and gists.settings.dest == Path("/srv/octocat+gists"), (
        "its own folder, whatever the table is called"
    )
    assert repos.settings.dest == Path("/srv/octocat") and snippets.settings.snippets
