"""A run that continues from a saved listing cursor parses pages exactly like one that started at the top.

Providers are stateless: a GitLab provider that learned its group only in ``first_urls()`` once misplaced
every project of a resumed run (``unsafe: listed under 'acme' but owned by 'acme/platform'``) and cloned
top-group projects a second time under ``DEST/acme/…``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from gz_tui.forge_sim import Scenario
from gz_tui.pipeline.runner import Pipeline
from tests.helpers import json_sink, repo_dirs, run_cancelled_when, settings_for

REPOS = 130
"""Two pages or more on every forge (GitHub, GitLab and Bitbucket Cloud 100 a page, Gitea 50, Bitbucket Data Center
as many as its cap allows: 100 here, Sourcehut 25; Gogs lists everything at once: ``tests/test_sourcehut_gogs.py``)."""
PER_PAGE = {"gitea": 50, "sourcehut": 25}


def is_listing(path: str) -> bool:
    return "repos" in path or "projects" in path or path.startswith("/query")


@pytest.mark.parametrize("provider", ["github", "gitlab", "gitea", "bitbucket", "bitbucket-server", "sourcehut"])
def test_a_run_resumed_from_its_cursor_clones_every_repo_once_at_its_path(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim = forge_factory(org="acme", repos=REPOS, scenario=Scenario(bitbucket_server_page_max=100))
    dest = tmp_path / "acme"
    settings = settings_for(sim, dest, provider=provider, base_url=sim.api_url(provider), workers=4, buffer=20)

    code, events = run_cancelled_when(settings, lambda events: events[-1]["event"] == "page")
    assert code == 130
    assert [e["number"] for e in events if e["event"] == "page"] == [1]
    pages_before = sum(1 for r in sim.api_requests() if is_listing(r.path))

    events = []
    pipeline = Pipeline(settings, events=json_sink(events.append))
    code = anyio.run(pipeline.run)
    failures = [(e["repo"], e["message"]) for e in events if e["event"] == "repo_failed"]
    assert code == 0, failures[:3]
    assert events[0]["event"] == "resume" and events[0]["listing_done"] is False
    listing = [r.path for r in sim.api_requests() if is_listing(r.path)][pages_before:]
    per_page = PER_PAGE.get(provider, 100)
    assert len(listing) == -(-REPOS // per_page) - 1, "the resumed run continues from its cursor: page 1 is not asked again"
    expected = set(sim.repo_names(provider))
    assert repo_dirs(dest) == expected  # every repo at its own (nested, for GitLab) path, nothing else
    served = Counter(r.path for r in sim.requests() if r.kind == "git" and "info/refs" in r.path)
    assert len(served) == len(expected) and set(served.values()) == {1}, "a repo was cloned twice"
