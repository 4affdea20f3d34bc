"""Sourcehut and Gogs end to end against the embedded forge (issue 27): Sourcehut's GraphQL listing by cursor (its
price cap, its built clone URLs, no token for git, private repos over ssh only), Gogs's whole listings (one request,
``empty`` repos skipped, collaborations left out, every wiki tried), credentials and rate limits on both.

The dialects are ``gz_tui/forge_sim/sourcehut_api.py`` and ``gogs_api.py``; the tests every forge shares (mirrors,
prune, partial clones, resume from a cursor, re-sync, hostile listings, the secret audit, a bad token) take these two
as parameters elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from gz_tui.clock import FakeClock
from gz_tui.forge_sim import ForgeSim, Scenario
from gz_tui.forges.sourcehut import QUERY
from tests.conftest import run_cli
from tests.helpers import git_path_name, repo_dirs, run_cancelled_when, run_pipeline, settings_for

TOKEN = "srhtTOKENabcdefghijklmnopqrstuvwxyz0123456789"


def srht(sim: ForgeSim, dest: Path, **changes: Any) -> Any:
    return settings_for(sim, dest, provider="sourcehut", base_url=sim.api_url("sourcehut"), **changes)


def gogs(sim: ForgeSim, dest: Path, **changes: Any) -> Any:
    return settings_for(sim, dest, provider="gogs", base_url=sim.api_url("gogs"), **changes)


def graphql(sim: ForgeSim, query: str, variables: dict[str, Any] | None = None, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{sim.base_url}/query", json={"query": query, "variables": variables or {}}, headers=headers)


def waits_of(events: list[dict[str, Any]], kind: str) -> list[tuple[float, float]]:
    return [(e["time"], e["until"]) for e in events if e["event"] == "rate_limit_wait" and e["kind"] == kind]


# --------------------------------------------------------------------------- Sourcehut


def test_sourcehut_lists_a_user_by_cursor_and_clones_the_built_urls_without_a_token(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=60, token=TOKEN)
    dest = tmp_path / "acme"

    code, pipeline, events = run_pipeline(srht(sim, dest, token=TOKEN))

    assert code == 0, [e for e in events if e["event"] == "repo_failed"][:3]
    public = set(sim.repo_names("sourcehut"))
    assert repo_dirs(dest) == public and len(public) < 60
    listing = sim.api_requests()
    assert [(r.method, r.path) for r in listing] == [("POST", "/query")] * 3, "25 a page, until the cursor is null"
    git = [r for r in sim.requests() if r.kind == "git"]
    assert git and {r.credential for r in git} == {"none"}, "the token never goes to git"
    assert {git_path_name(r.path, "acme") for r in git} == public and all(r.path.startswith("/~acme/") for r in git)
    skipped = [e for e in events if e["event"] == "repo_skipped"]
    assert len(skipped) == 60 - len(public) and {e["reason"] for e in skipped} == {
        "private: the forge serves private repos over ssh only (--protocol ssh)"
    }
    notices = [e["message"] for e in events if e["event"] == "notice" and "ssh only" in e["message"]]
    assert len(notices) == 1 and "--protocol ssh" in notices[0]


def test_sourcehut_query_stays_under_the_price_cap_and_a_dearer_one_is_refused(forge_factory: Any) -> None:
    sim = forge_factory(org="acme", repos=40, token=TOKEN)
    first = graphql(sim, QUERY, {"user": "acme", "cursor": None}).json()["data"]["user"]["repositories"]
    assert len(first["results"]) == 25 and first["cursor"]
    second = graphql(sim, QUERY, {"user": "acme", "cursor": first["cursor"]})
    assert second.status_code == 200 and second.json()["data"]["user"]["repositories"]["cursor"] is None
    dear = QUERY.replace("name visibility", "name updated created visibility owner { canonicalName }")
    refused = graphql(sim, dear, {"user": "acme", "cursor": first["cursor"]})
    assert refused.status_code == 422 and "exceeds the limit of 200" in refused.json()["errors"][0]["message"]
    own = graphql(sim, "{ repositories { results { name } cursor } }").json()["data"]["repositories"]
    assert own == {"results": [], "cursor": None}, "the top-level field lists only the token owner's own repos"
    assert graphql(sim, '{ user(username: "nobody") { id } }').json()["data"]["user"] is None
    unknown = graphql(sim, '{ user(username: "acme") { nope } }')
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["message"] == 'Cannot query field "nope" on type "User".'


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("short-one", 400), ("x" * 40, 403)], ids=["none", "malformed", "unknown"])
def test_sourcehut_refused_credentials_are_exit_2_after_one_request(
    forge_factory: Any, tmp_path: Path, token: str | None, status: int
) -> None:
    sim = forge_factory(org="acme", repos=5, token=TOKEN)
    assert graphql(sim, QUERY, {"user": "acme"}, token=token).status_code == status
    sim.clear_log()
    env = {"SRHT_TOKEN": token} if token else {}
    result = run_cli("acme", "--provider", "sourcehut", "--base-url", sim.base_url, "--dest", str(tmp_path / "d"), env=env)
    said = "rejected the credentials" if token else "no token was sent; "
    assert result.returncode == 2 and said in result.stderr and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == (2 if token is None else 1) and len(sim.api_requests()) == 1  # without a token: a note first
    assert token is not None or "SRHT_TOKEN" in lines[0]
    assert token is None or token not in result.stderr


def test_sourcehut_unknown_user_is_not_found(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=5, token=TOKEN)
    result = run_cli(
        "~nobody", "--provider", "sourcehut", "--base-url", sim.base_url, "--dest", str(tmp_path / "d"), env={"SRHT_TOKEN": TOKEN}
    )
    assert result.returncode == 2 and "sourcehut user '~nobody' not found" in result.stderr


def test_sourcehut_tilde_owner_and_a_429_without_retry_after(forge_factory: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    sim = forge_factory(org="acme", repos=120, clock=clock, token=TOKEN, scenario=Scenario(primary_limit=2, primary_window=300))
    code, _, events = run_pipeline(srht(sim, tmp_path / "acme", owner="~acme", token=TOKEN, dry_run=True, buffer=500), clock=clock)
    assert code == 0 and events[-1]["listed"] == 120
    waits = waits_of(events, "throttled")
    assert waits and {r.status for r in sim.api_requests() if r.rate_limited} == {429}
    for start, until in waits:
        assert not [r for r in sim.api_requests() if start + 0.001 < r.time < until - 0.001], "an API request inside a wait"
    assert {e["repo"].split("/")[0] for e in events if e["event"] == "repo_planned"} == {"~acme"}


def test_sourcehut_resumed_run_continues_from_its_cursor(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=80)
    settings = srht(sim, tmp_path / "acme", workers=2, buffer=10)
    code, _ = run_cancelled_when(settings, lambda events: events[-1]["event"] == "page")
    assert code == 130
    before = len(sim.api_requests())
    code, _, events = run_pipeline(settings)
    assert code == 0 and events[0]["event"] == "resume"
    assert len(sim.api_requests()) - before == 3, "pages 2 to 4 only: the cursor was kept"
    assert repo_dirs(tmp_path / "acme") == set(sim.repo_names("sourcehut"))


# --------------------------------------------------------------------------- Gogs


def test_gogs_lists_an_org_in_one_request_and_skips_empty_repos(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=140, token=TOKEN, scenario=Scenario(empty_repos=("repo-00003", "repo-00009")))
    dest = tmp_path / "acme"
    code, _, events = run_pipeline(gogs(sim, dest, token=TOKEN, workers=8))
    assert code == 0, [e for e in events if e["event"] == "repo_failed"][:3]
    assert [r.path for r in sim.api_requests()] == ["/gogs/api/v1/orgs/acme/repos"]
    assert repo_dirs(dest) == set(sim.repo_names("gogs")) - {"repo-00003", "repo-00009"}
    skipped = {e["repo"]: e["reason"] for e in events if e["event"] == "repo_skipped"}
    assert skipped == dict.fromkeys(("acme/repo-00003", "acme/repo-00009"), "empty: nothing has been pushed to it yet")
    assert events[-1]["skipped"] == 2 and events[-1]["failed"] == 0
    git = {git_path_name(r.path, "acme") for r in sim.requests() if r.kind == "git"}
    assert "repo-00003" not in git and {r.credential for r in sim.requests() if r.kind == "git"} == {"token"}


def test_gogs_user_listing_leaves_collaborations_out(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="forge-sim-user", repos=6, token=TOKEN, owner_kind="user")
    listed = httpx.get(f"{sim.api_url('gogs')}/api/v1/users/forge-sim-user/repos", headers={"Authorization": f"token {TOKEN}"}).json()
    assert {item["owner"]["login"] for item in listed} == {"forge-sim-user", "partners"}
    dest = tmp_path / "me"
    code, _, events = run_pipeline(gogs(sim, dest, token=TOKEN))
    assert code == 0 and repo_dirs(dest) == set(sim.repo_names("gogs"))
    assert not [e for e in events if "partners" in e.get("repo", "")]


def test_gogs_wikis_are_tried_for_every_repo(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=9)
    dest = tmp_path / "acme"
    code, pipeline, events = run_pipeline(gogs(sim, dest, wikis=True))
    assert code == 0 and not [e for e in events if e["event"] == "repo_failed"]
    states = {name: sim.wiki_of(name) for name in sim.repo_names("gogs")}
    assert pipeline.stats.counts.wikis == sum(s == "present" for s in states.values())
    assert pipeline.stats.counts.no_wiki == sum(s != "present" for s in states.values()), "Gogs does not say: each is tried"
    for name, state in states.items():
        assert (dest / f"{name}.wiki").is_dir() == (state == "present")


def test_gogs_killed_run_resumes_without_listing_or_cloning_twice(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=40, scenario=Scenario(git_latency=0.05))
    settings = gogs(sim, tmp_path / "acme", workers=2, buffer=10)
    code, first = run_cancelled_when(settings, lambda events: sum(e["event"] == "repo_done" for e in events) >= 3)
    assert code == 130
    done = {e["repo"].removeprefix("acme/") for e in first if e["event"] == "repo_done"}
    code, _, events = run_pipeline(settings)
    assert code == 0 and events[0] == {**events[0], "event": "resume", "listing_done": True}
    assert len(sim.api_requests()) == 1, "the whole listing was journaled: not asked again"
    served: dict[str, int] = {}
    for r in sim.requests():
        if r.kind == "git" and "info/refs" in r.path and (name := git_path_name(r.path, "acme")):
            served[name] = served.get(name, 0) + 1
    assert set(served) == set(sim.repo_names("gogs"))
    assert done and all(served[name] == 1 for name in done), "a repo the killed run finished was cloned again"
    assert sum(count > 1 for count in served.values()) <= 2, "only the clones cut short by the kill are redone"


def test_gogs_429_is_waited_out_and_a_token_goes_as_token(forge_factory: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    sim = forge_factory(org="acme", repos=20, clock=clock, token=TOKEN, scenario=Scenario(secondary_every=2, secondary_retry_after=9))
    url = f"{sim.api_url('gogs')}/api/v1/orgs/acme/repos"
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401, "Gogs reads no Bearer"
    assert httpx.get(url, headers={"Authorization": f"token {TOKEN}"}).status_code == 200  # the 2nd counted is a 429
    code, _, events = run_pipeline(gogs(sim, tmp_path / "acme", token=TOKEN, dry_run=True), clock=clock)
    assert code == 0 and events[-1]["listed"] == 20
    assert [round(until - start) for start, until in waits_of(events, "throttled")] == [9]
    summary = json.dumps(events)
    assert TOKEN not in summary


def test_sourcehut_private_repos_are_planned_over_ssh(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=30)
    code, _, events = run_pipeline(srht(sim, tmp_path / "acme", protocol="ssh", dry_run=True))
    assert code == 0 and not [e for e in events if e["event"] == "repo_skipped"]
    assert len([e for e in events if e["event"] == "repo_planned" and e["action"] == "clone"]) == 30
    assert not [e for e in events if e["event"] == "notice" and "ssh only" in e["message"]]
