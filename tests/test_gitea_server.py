"""Gitea and Forgejo say what they are and how many repos a page may hold; gz-tui asks before it lists.

A Forgejo (Codeberg's forge) answers ``/api/v1/version`` with ``9.0.0+gitea-1.22.0``, a Gitea with ``1.23.0``; the
run names which in its events, its summary and ``gz-tui status``. ``/api/v1/settings/api`` says the page-size cap
(``max_response_items``): a server that caps pages at 30 is paged at 30 (asking 50 would get 30 a page, and a short
page is not the end), one that allows 250 answers in a fifth of the requests that 50 a page would take.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from gz_tui.forge_sim import Scenario
from gz_tui.status import show_status
from tests.helpers import repo_dirs, run_pipeline, settings_for


def listing_pages(sim: Any) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(r.path).query) for r in sim.api_requests() if r.path.split("?")[0].endswith("/repos")]


@pytest.mark.parametrize(("forgejo", "said"), [("9.0.0", "Forgejo 9.0.0"), (None, "Gitea 1.23.0")])
def test_a_run_says_whether_the_forge_is_forgejo_or_gitea(forge_factory: Any, tmp_path: Path, forgejo: str | None, said: str) -> None:
    sim = forge_factory(org="acme", repos=12, scenario=Scenario(forgejo_version=forgejo))
    dest = tmp_path / "acme"
    code, _, events = run_pipeline(settings_for(sim, dest, provider="gitea", base_url=sim.api_url("gitea")))
    assert code == 0
    assert [e["server"] for e in events if e["event"] == "server"] == [said]
    assert events[-1]["event"] == "summary" and events[-1]["server"] == said
    assert len(repo_dirs(dest)) == 12
    out = io.StringIO()
    assert show_status(dest, None, out=out, err=io.StringIO()) == 0
    assert said in out.getvalue().splitlines()[0]


@pytest.mark.parametrize(("cap", "pages"), [(30, 4), (50, 2), (250, 1)])
def test_the_listing_pages_at_the_servers_own_cap(forge_factory: Any, tmp_path: Path, cap: int, pages: int) -> None:
    sim = forge_factory(org="acme", repos=100, scenario=Scenario(gitea_max_response_items=cap))
    settings = settings_for(sim, tmp_path / "acme", provider="gitea", base_url=sim.api_url("gitea"), dry_run=True)
    code, _, events = run_pipeline(settings)
    assert code == 0
    summary = events[-1]
    assert summary["listed"] == 100 and summary["would_clone"] == 100
    asked = listing_pages(sim)
    assert len(asked) == pages, "one request a page of the server's cap"
    assert {query["limit"][0] for query in asked} == {str(min(cap, 1000))}
    assert [e["page_size"] for e in events if e["event"] == "server"] == [cap]


def test_a_server_that_does_not_say_its_cap_is_paged_at_gitea_s_default(forge_factory: Any, tmp_path: Path) -> None:
    """An old Gitea without ``/settings/api``: 404 there, and the listing goes on at 50 a page."""
    sim = forge_factory(org="acme", repos=60, scenario=Scenario(gitea_version=(1, 12)))
    settings = settings_for(sim, tmp_path / "acme", provider="gitea", base_url=sim.api_url("gitea"), dry_run=True)
    code, _, events = run_pipeline(settings)
    assert code == 0 and events[-1]["listed"] == 60
    assert [query["limit"][0] for query in listing_pages(sim)] == ["50", "50"]


@pytest.mark.parametrize("instance", [False, True])
def test_a_refused_token_stops_at_the_first_request_whatever_is_asked_first(forge_factory: Any, tmp_path: Path, instance: bool) -> None:
    """The first request is now the version probe: a 401 there ends the run as the listing's would (exit 2, one
    request, never retried)."""
    sim = forge_factory(org="acme", repos=5, token="right-token")
    owner = {"owner": "", "instance": True} if instance else {}
    settings = settings_for(sim, tmp_path / "acme", provider="gitea", base_url=sim.api_url("gitea"), token="wrong-token", **owner)
    code, _, events = run_pipeline(settings)
    assert code == 2
    assert len(sim.api_requests()) == 1
    failed = [e for e in events if e["event"] == "listing_failed"]
    assert len(failed) == 1 and "\n" not in failed[0]["message"] and "wrong-token" not in failed[0]["message"]
