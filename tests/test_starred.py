"""``--starred USER``: the repos a user starred (GitHub ``/users/U/starred``, Gitea ``/api/v1/users/U/starred``,
GitLab ``/api/v4/users/U/starred_projects``), each at ``DEST/OWNER/NAME``, synced like any target: a first run, a
run killed and resumed, an incremental re-sync, and a prune that moves what was unstarred to the attic once the
forge confirms it is no longer starred (and never on the listing's word alone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from gz_tui.config import Settings
from gz_tui.config.settings import validate
from tests.conftest import run_cli
from tests.helpers import repo_dirs, run_cancelled_when, run_pipeline, settings_for

TOKEN = "starred-test-token-9f1e2d3c4b"
FLAVOURS = ["github", "gitea", "gitlab"]


def starred_settings(sim: Any, dest: Path, provider: str, **changes: Any) -> Settings:
    values = dict(owner=sim.token_user, starred=True, provider=provider, base_url=sim.api_url(provider), workers=3, token=TOKEN)
    return settings_for(sim, dest, **(values | changes))


def public_names(sim: Any, count: int) -> list[str]:
    return [m.name for m in sim._catalog.repos() if not m.private and not m.hostile and m.owner is None][:count]


def landing(sim: Any, provider: str, names: list[str]) -> set[str]:
    """Where each starred repo lands below DEST: its owner, then its path (GitLab: its whole path)."""
    if provider == "gitlab":
        return {f"acme/{sim._catalog.find(name).gitlab_rel_path}" for name in names}
    return {f"acme/{name}" for name in names}


def failures(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["repo"], e["message"]) for e in events if e["event"] == "repo_failed"]


@pytest.mark.parametrize("provider", FLAVOURS)
def test_starred_repos_are_cloned_resynced_and_pruned_when_unstarred(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim = forge_factory(org="acme", repos=10, token=TOKEN)
    names = public_names(sim, 6)
    sim.star(*names[:4])
    dest = tmp_path / "stars"
    settings = starred_settings(sim, dest, provider)
    assert settings.name == "forge-sim-user+starred", "never the name (nor the folder) of the user's own repos"

    code, _, events = run_pipeline(settings)
    assert code == 0, failures(events)
    assert repo_dirs(dest) == landing(sim, provider, names[:4])
    summary = events[-1]
    assert summary["event"] == "summary" and summary["cloned"] == 4 and summary["listed"] == 4

    # Re-sync: nothing moved, nothing fetched; a push to a starred repo is fetched.
    code, _, events = run_pipeline(settings)
    assert code == 0 and events[-1]["unchanged"] == 4 and events[-1]["cloned"] == 0
    sim.push_commit(names[0])

    # A new star is cloned; one unstarred is moved to the attic once the forge says it is no longer starred.
    sim.star(names[4])
    sim.unstar(names[1])
    code, _, events = run_pipeline(starred_settings(sim, dest, provider, prune=True, prune_limit=50))
    assert code == 0, failures(events)
    summary = events[-1]
    assert (summary["cloned"], summary["gone"], summary["moved"]) == (1, 1, 1), summary
    assert summary["updated"] >= 1 or provider == "gitlab"  # GitLab's activity signal may lag a push by an hour
    (moved,) = [e for e in events if e["event"] == "repo_moved"]
    assert moved["repo"] == next(iter(landing(sim, provider, [names[1]])))
    assert Path(moved["attic"]).is_dir()
    assert repo_dirs(dest) == landing(sim, provider, [names[0], names[2], names[3], names[4]])


def test_an_unstarred_repo_stays_when_the_token_is_not_the_users(forge_factory: Any, tmp_path: Path) -> None:
    """GitHub tells whether a repo is starred only to the user's own token: without it, nothing unstarred moves."""
    sim = forge_factory(org="acme", repos=8)
    names = public_names(sim, 3)
    sim.star(*names)
    dest = tmp_path / "stars"
    anonymous = starred_settings(sim, dest, "github", token=None, prune=True, prune_force=True)
    code, _, events = run_pipeline(anonymous)
    assert code == 0 and events[-1]["cloned"] == 3, failures(events)
    sim.unstar(names[0])
    code, _, events = run_pipeline(anonymous)
    assert code == 0
    (kept,) = [e for e in events if e["event"] == "repo_kept"]
    assert kept["repo"] == f"acme/{names[0]}" and "own token" in kept["reason"]
    assert (dest / "acme" / names[0] / ".git").is_dir()


def test_a_killed_starred_run_resumes_and_clones_nothing_twice(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=12, token=TOKEN)
    names = public_names(sim, 8)
    sim.star(*names)
    dest = tmp_path / "stars"
    settings = starred_settings(sim, dest, "gitea", workers=1)
    code, events = run_cancelled_when(settings, lambda seen: sum(e["event"] == "repo_done" for e in seen) >= 2)
    assert code == 130
    first = sum(1 for e in events if e["event"] == "repo_done" and e["outcome"] == "cloned")
    assert 2 <= first < 8
    code, _, events = run_pipeline(settings)
    assert code == 0, failures(events)
    summary = events[-1]
    assert summary["cloned"] == 8 - first and summary["resumed_done"] == first
    assert repo_dirs(dest) == landing(sim, "gitea", names)


@pytest.mark.parametrize("provider", FLAVOURS)
def test_the_forge_serves_stars_as_the_real_one_does_paged(forge_factory: Any, provider: str) -> None:
    """The embedded forge's endpoints, read with a plain client following ``rel="next"`` two at a time: every star
    once, in the forge's order; and the per-repo question (GitHub and Gitea: 204 or 404 to the user's own token;
    GitLab: the project's starrers)."""
    sim = forge_factory(org="acme", repos=10, token=TOKEN)
    names = public_names(sim, 7)
    sim.star(*names)
    sim.unstar(names[3])
    stars = [n for n in names if n != names[3]]
    api = sim.api_url(provider)
    headers = {"github": {"Authorization": f"Bearer {TOKEN}"}, "gitea": {"Authorization": f"token {TOKEN}"}}.get(
        provider, {"PRIVATE-TOKEN": TOKEN}
    )
    user = sim.token_user
    url: str | None = {
        "github": f"{api}/users/{user}/starred?per_page=2&sort=created&direction=asc",
        "gitea": f"{api}/api/v1/users/{user}/starred?limit=2&page=1",
        "gitlab": f"{api}/api/v4/users/{user}/starred_projects?per_page=2&order_by=id&sort=asc",
    }[provider]
    seen: list[str] = []
    pages = 0
    with httpx.Client(headers=headers, timeout=10) as client:
        while url:
            response = client.get(url)
            assert response.status_code == 200, response.text
            seen += [item["name"] for item in response.json()]
            url = response.links.get("next", {}).get("url")
            pages += 1
        assert pages == 3
        assert seen == (list(reversed(stars)) if provider == "gitea" else stars), "Gitea: the newest star first"
        if provider == "gitlab":
            for name, starred in ((names[0], True), (names[3], False)):
                answer = client.get(f"{api}/api/v4/projects/{sim.repo_id(name)}/starrers", params={"search": user})
                assert answer.status_code == 200
                assert [u["user"]["username"] for u in answer.json()] == ([user] if starred else [])
            return
        check = f"{api}/user/starred/acme" if provider == "github" else f"{api}/api/v1/user/starred/acme"
        assert client.get(f"{check}/{names[0]}").status_code == 204
        assert client.get(f"{check}/{names[3]}").status_code == 404
        assert httpx.get(f"{check}/{names[0]}", timeout=10).status_code == 401, "anonymous: no user to ask about"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"provider": "bitbucket", "owner": "me"}, "bitbucket has no such listing"),
        ({"instance": True, "owner": "", "base_url": "https://gitlab.example.com", "provider": "gitlab"}, "--all"),
        ({"provider": "gitlab", "owner": "grp/sub"}, "names a user, not a group path"),
        ({"affiliation": "all", "owner": "me"}, "--affiliation selects among an owner's own repos"),
    ],
)
def test_starred_where_it_cannot_be_is_one_line(changes: dict[str, Any], words: str) -> None:
    values: dict[str, Any] = {"owner": "me", "starred": True, **changes}
    problem = validate(Settings(**values))
    assert problem is not None and words in problem and "\n" not in problem


def test_the_command_line_lands_a_users_stars_beside_not_inside_their_own_repos(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=6, token=TOKEN)
    names = public_names(sim, 2)
    sim.star(*names)
    result = run_cli("--starred", sim.token_user, "--base-url", sim.base_url, "--json", env={"GH_TOKEN": TOKEN}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert repo_dirs(tmp_path / "forge-sim-user+starred") == {f"acme/{n}" for n in names}
    status = run_cli("status", str(tmp_path / "forge-sim-user+starred"))
    assert status.returncode == 0 and "the repos forge-sim-user starred (--starred)" in status.stdout, status.stdout
    refused = run_cli("--starred", "me", "--provider", "bitbucket", "--dry-run")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "--starred" in refused.stderr
