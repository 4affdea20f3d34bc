"""Incremental re-sync on every forge: an unchanged org costs no git traffic; a push is fetched, and only it.

Each forge has its own change signal (GitHub ``pushed_at``, GitLab ``last_activity_at``, Gitea ``updated_at``,
since Gitea repo objects carry no ``pushed_at``, Bitbucket Cloud ``updated_on``, Sourcehut ``HEAD.target``, Gogs
``updated_at``; Bitbucket Data Center has none, which
``tests/test_bitbucket.py`` covers). A re-sync compares it with the value recorded at the last
sync and skips ``git fetch`` when it has not moved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gz_tui.forge_sim import ForgeSim
from tests.conftest import git_head
from tests.helpers import git_path_name, github_listing, repo_dirs, run_pipeline, settings_for

ORG = "acme"
REPOS = 30
PROVIDERS = ("github", "gitlab", "gitea", "bitbucket", "sourcehut", "gogs")


def resync(sim: ForgeSim, dest: Path, provider: str) -> tuple[int, dict[str, str]]:
    """Run the pipeline once; the exit code and each repo's outcome, keyed by its path below the org."""
    code, _, events = run_pipeline(settings_for(sim, dest, provider=provider, base_url=sim.api_url(provider)))
    prefix = f"{ORG}/"
    outcomes = {
        e["repo"].removeprefix(prefix): str(e.get("outcome", e["event"])) for e in events if e["event"] in ("repo_done", "repo_failed")
    }
    return code, outcomes


def fetched(sim: ForgeSim) -> list[str]:
    """Repos (path below the org) the forge served a clone or fetch to: one ``info/refs`` request each."""
    return [name for r in sim.requests() if r.kind == "git" and "info/refs" in r.path if (name := git_path_name(r.path, ORG))]


def undated(sim: ForgeSim, provider: str) -> set[str]:
    """Repos whose listing carries no change signal at all, so every sync must fetch them to know.

    GitHub has such repos here (``pushed_at: null``, as for a never-pushed repo); GitLab always sends
    ``last_activity_at`` and Gitea always sends ``updated_at``. Sourcehut's signal (``HEAD.target``) is exact for
    the default branch only, so every one of its clones is asked with ``git ls-remote`` on each run.
    """
    if provider == "sourcehut":
        return set(sim.repo_names(provider))
    if provider != "github":
        return set()
    return {item["name"] for item in github_listing(sim.base_url, ORG) if item.get("pushed_at") is None}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_resync_fetches_only_the_repos_pushed_since(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=REPOS)
    dest = tmp_path / ORG
    names = sim.repo_names(provider)
    assert len(names) == REPOS or provider == "sourcehut"  # Sourcehut's private repos are cloned over ssh only

    code, outcomes = resync(sim, dest, provider)
    assert code == 0, {n: o for n, o in outcomes.items() if o != "cloned"}
    assert repo_dirs(dest) == set(names)
    assert set(outcomes.values()) == {"cloned"}

    # Nothing pushed: every repo is reported unchanged and git is not asked about any repo the forge dates.
    blind = undated(sim, provider)
    sim.clear_log()
    code, outcomes = resync(sim, dest, provider)
    assert code == 0
    assert outcomes == dict.fromkeys(names, "unchanged")
    assert sorted(fetched(sim)) == sorted(blind)
    if provider not in ("github", "sourcehut"):
        assert [r for r in sim.requests() if r.kind == "git"] == []

    # Two pushes: exactly those two are fetched and updated to the forge's new head; the rest stay unchanged.
    pushed = [n for n in names if n not in blind][3:5] or names[3:5]
    new_heads = {name: sim.push_commit(name) for name in pushed}
    assert all(sim.head_of(name) == head for name, head in new_heads.items())
    sim.clear_log()
    code, outcomes = resync(sim, dest, provider)
    assert code == 0
    assert sorted(fetched(sim)) == sorted(set(pushed) | blind)  # one request each: a pushed one is fetched, not asked first
    assert {n: o for n, o in outcomes.items() if o != "unchanged"} == dict.fromkeys(pushed, "updated")
    assert set(outcomes) == set(names)
    for name, head in new_heads.items():
        assert git_head(dest / name, "origin/main") == head
