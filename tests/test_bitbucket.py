"""Bitbucket Cloud and Data Center end to end against the embedded forge (issue 27): each listing's own paging, the
credentials in the form they are written, clone hrefs naming the user, rate limits, Cloud's change signal and Data
Center's lack of one, and the owner forms (a workspace, a project key, ``~user``).

The forge's two dialects are in ``gz_tui/forge_sim/bitbucket_api.py`` and ``bitbucket_server_api.py``; the tests the
other forges share (resume, mirrors, hostile listings, the secret audit) take these two as parameters elsewhere.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from gz_tui.clock import FakeClock
from gz_tui.forge_sim import ForgeSim, Scenario
from gz_tui.forges.bitbucket import Bitbucket, without_user
from gz_tui.forges.bitbucket_server import BitbucketServer
from tests.conftest import git_head, run_cli
from tests.helpers import git_path_name, repo_dirs, run_pipeline, settings_for

TOKEN = "bb-access-token-0123456789abcdef"
EMAIL = "me@example.com"
API_TOKEN = "ATATT3xFfGF0-api-token-0123456789"


def cloud(sim: ForgeSim, dest: Path, **changes: Any) -> Any:
    return settings_for(sim, dest, provider="bitbucket", base_url=sim.api_url("bitbucket"), **changes)


def server(sim: ForgeSim, dest: Path, **changes: Any) -> Any:
    return settings_for(sim, dest, provider="bitbucket-server", base_url=sim.api_url("bitbucket-server"), **changes)


def query(path: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(path).query))


def waits_of(events: list[dict[str, Any]], kind: str) -> list[tuple[float, float]]:
    return [(e["time"], e["until"]) for e in events if e["event"] == "rate_limit_wait" and e["kind"] == kind]


def assert_quiet_during(sim: ForgeSim, waits: list[tuple[float, float]]) -> None:
    for start, until in waits:
        assert not [r for r in sim.api_requests() if start + 0.001 < r.time < until - 0.001], "an API request inside a wait"


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


# --------------------------------------------------------------------------- credentials, as written


def test_a_credential_is_sent_in_the_form_it_is_written_in() -> None:
    cloud_provider, dc = Bitbucket("https://api.bitbucket.org", "acme"), BitbucketServer("https://git.example.com", "PROJ")
    assert cloud_provider.auth_headers(f"{EMAIL}:{API_TOKEN}") == {"Authorization": basic(EMAIL, API_TOKEN)}
    assert cloud_provider.auth_headers(TOKEN) == {"Authorization": f"Bearer {TOKEN}"}
    assert Bitbucket.git_auth_header(f"{EMAIL}:{API_TOKEN}") == "Authorization: " + basic("x-bitbucket-api-token-auth", API_TOKEN)
    assert Bitbucket.git_auth_header(TOKEN) == "Authorization: " + basic("x-token-auth", TOKEN)
    assert dc.auth_headers(TOKEN) == {"Authorization": f"Bearer {TOKEN}"}
    assert BitbucketServer.git_auth_header(TOKEN) == f"Authorization: Bearer {TOKEN}"
    assert BitbucketServer.git_auth_header(f"jdoe:{TOKEN}") == "Authorization: " + basic("jdoe", TOKEN)
    assert Bitbucket.git_origin("https://api.bitbucket.org") == "https://bitbucket.org/"
    assert Bitbucket.wiki_url("https://bitbucket.org/acme/api.git") == "https://bitbucket.org/acme/api.git/wiki"


@pytest.mark.parametrize(
    ("href", "kept"),
    [
        ("https://jdoe@bitbucket.org/acme/api.git", "https://bitbucket.org/acme/api.git"),
        ("https://bitbucket.org/acme/api.git", "https://bitbucket.org/acme/api.git"),
        ("https://jdoe:secret@bitbucket.org/acme/api.git", "https://jdoe:secret@bitbucket.org/acme/api.git"),  # refused later
        ("git@bitbucket.org:acme/api.git", "git@bitbucket.org:acme/api.git"),
    ],
)
def test_a_user_name_alone_is_dropped_from_a_clone_href_and_a_password_is_left_for_the_check(href: str, kept: str) -> None:
    assert without_user(href) == kept


# --------------------------------------------------------------------------- Cloud


def test_cloud_workspace_is_listed_100_a_page_following_next_and_cloned_without_the_user_in_its_urls(
    forge_factory: Any, tmp_path: Path
) -> None:
    sim = forge_factory(org="acme", repos=130, token=TOKEN)
    first = httpx.get(f"{sim.base_url}/2.0/repositories/acme?pagelen=100", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    https = {link["name"]: link["href"] for link in first["values"][0]["links"]["clone"]}["https"]
    assert https.startswith("http://forge-sim-user@"), "the forge names the caller in its clone hrefs, as Bitbucket does"
    sim.clear_log()
    dest = tmp_path / "acme"

    code, pipeline, events = run_pipeline(cloud(sim, dest, token=TOKEN))

    assert code == 0, [e for e in events if e["event"] == "repo_failed"][:3]
    names = sim.repo_names("bitbucket")
    assert repo_dirs(dest) == set(names)
    listing = [r.path for r in sim.api_requests()]
    assert len(listing) == 2 and all(query(path)["pagelen"] == "100" for path in listing)
    assert query(listing[1])["page"] == "2"  # the body's next, as given
    assert pipeline.stats.counts.total == 130  # the body's size
    for name in names[::17]:
        assert git_head(dest / name) == sim.head_of(name)
        remote = subprocess.run(["git", "-C", str(dest / name), "remote", "get-url", "origin"], capture_output=True, text=True).stdout
        assert remote.strip() == f"{sim.base_url}/acme/{name}.git"


def test_cloud_cursor_pages_without_page_or_size_are_followed_to_the_last(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=250, scenario=Scenario(bitbucket_cursor_pages=True))
    code, pipeline, events = run_pipeline(cloud(sim, tmp_path / "acme", dry_run=True, buffer=500))
    assert code == 0
    assert events[-1]["listed"] == 250 and [e["number"] for e in events if e["event"] == "page"] == [1, 2, 3]
    cursors = [query(r.path).get("page", "") for r in sim.api_requests()][1:]
    assert len(cursors) == 2 and not any(cursor.isdigit() for cursor in cursors)
    assert pipeline.stats.counts.total is None  # no size: no total is made up


def test_cloud_api_token_written_email_colon_token_lists_with_basic(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=30, token=f"{EMAIL}:{API_TOKEN}")
    result = run_cli(
        "acme", "--provider", "bitbucket", "--base-url", sim.base_url, "--dest", str(tmp_path / "d"), "--dry-run", "--json",
        env={"BITBUCKET_TOKEN": f"{EMAIL}:{API_TOKEN}"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["listed"] == 30
    assert {r.credential for r in sim.api_requests()} == {"token"}
    assert API_TOKEN not in result.stdout + result.stderr


def test_cloud_api_token_clones_as_the_static_git_user(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=6, token=f"{EMAIL}:{API_TOKEN}")
    dest = tmp_path / "acme"
    code, _, events = run_pipeline(cloud(sim, dest, token=f"{EMAIL}:{API_TOKEN}"))
    assert code == 0, [e for e in events if e["event"] == "repo_failed"][:2]
    assert repo_dirs(dest) == set(sim.repo_names("bitbucket"))


def test_cloud_project_filter_is_asked_of_the_server_and_never_prunes(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=30)
    dest = tmp_path / "acme"
    assert run_pipeline(cloud(sim, dest))[0] == 0
    sim.clear_log()

    code, _, events = run_pipeline(cloud(sim, dest, projects=("PLATFORM", "TOOLS"), prune=True, prune_force=True))

    assert code == 0
    wanted = {n for n in sim.repo_names("bitbucket") if sim.project_of(n) in ("PLATFORM", "TOOLS")}
    assert wanted and events[-1]["listed"] == len(wanted) < 30
    assert all(query(r.path)["q"] == 'project.key="PLATFORM" OR project.key="TOOLS"' for r in sim.api_requests())
    assert not [e for e in events if e["event"] == "repo_moved"] and events[-1]["gone"] == 0
    assert len(repo_dirs(dest)) == 30


def test_cloud_spent_quota_is_a_429_whose_retry_after_is_waited_out_with_no_request_inside(forge_factory: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    sim = forge_factory(org="acme", repos=450, clock=clock, token=TOKEN, scenario=Scenario(primary_limit=2, primary_window=600))
    code, _, events = run_pipeline(cloud(sim, tmp_path / "acme", token=TOKEN, dry_run=True, buffer=1000), clock=clock)
    assert code == 0 and events[-1]["listed"] == 450
    waits = waits_of(events, "throttled")
    assert waits and all(590 <= until - start <= 601 for start, until in waits)
    assert_quiet_during(sim, waits)
    assert {r.status for r in sim.api_requests() if r.rate_limited} == {429}


def test_cloud_access_tokens_get_the_scaled_rate_limit_headers_and_api_tokens_do_not(tmp_path: Path) -> None:
    with ForgeSim(tmp_path, repos=3, token=f"{EMAIL}:{API_TOKEN}") as sim, ForgeSim(tmp_path / "b", repos=3, token=TOKEN) as other:
        url = "/2.0/repositories/acme?pagelen=100"
        by_api_token = httpx.get(sim.base_url + url, headers={"Authorization": basic(EMAIL, API_TOKEN)})
        by_access_token = httpx.get(other.base_url + url, headers={"Authorization": f"Bearer {TOKEN}"})
        refused = httpx.get(other.base_url + url, headers={"Authorization": "Bearer wrong"})
    assert by_api_token.status_code == 200 and "x-ratelimit-limit" not in by_api_token.headers
    assert by_access_token.headers["x-ratelimit-limit"] == "1000" and by_access_token.headers["x-ratelimit-resource"] == "api"
    assert by_access_token.headers["x-ratelimit-nearlimit"] == "false"
    assert refused.status_code == 401 and refused.json()["type"] == "error"


# --------------------------------------------------------------------------- Data Center


def test_data_center_pages_follow_next_page_start_never_size(forge_factory: Any, tmp_path: Path) -> None:
    scenario = Scenario(bitbucket_server_page_max=50, bitbucket_server_hidden_every=7)
    sim = forge_factory(org="acme", repos=130, scenario=scenario)
    page = httpx.get(f"{sim.base_url}/rest/api/1.0/projects/ACME/repos?limit=1000").json()
    assert page["limit"] == 50 and page["size"] < 50 and page["nextPageStart"] == 50 and page["isLastPage"] is False
    sim.clear_log()

    code, _, events = run_pipeline(server(sim, tmp_path / "acme", dry_run=True, buffer=500))

    assert code == 0 and events[-1]["listed"] == 130
    asked = [query(r.path) for r in sim.api_requests()]
    assert [q["start"] for q in asked] == ["0", "50", "100"] and {q["limit"] for q in asked} == {"1000"}
    assert {e["repos"] for e in events if e["event"] == "page"} != {50}, "every page held fewer repos than its limit"


def test_data_center_token_goes_as_bearer_to_the_api_and_to_git(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=8, token=TOKEN)
    dest = tmp_path / "d"
    result = run_cli(
        "ACME", "--provider", "bitbucket-server", "--base-url", sim.base_url, "--dest", str(dest), "--json",
        env={"BITBUCKET_SERVER_TOKEN": TOKEN},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert repo_dirs(dest) == set(sim.repo_names("bitbucket-server"))
    git = [r for r in sim.requests() if r.kind == "git"]
    assert git and {r.credential for r in git} == {"token"} and all(r.path.startswith("/scm/acme/") for r in git)


@pytest.mark.parametrize(
    ("owner", "paths"), [("~alice", ["/projects/~alice/repos"]), ("alice", ["/projects/alice/repos", "/users/alice/repos"])]
)
def test_data_center_user_repos_by_tilde_slug_or_by_slug(forge_factory: Any, tmp_path: Path, owner: str, paths: list[str]) -> None:
    sim = forge_factory(org="alice", repos=12, owner_kind="user")
    dest = tmp_path / "alice"
    code, _, events = run_pipeline(server(sim, dest, owner=owner))
    assert code == 0, [e for e in events if e["event"] == "repo_failed"][:2]
    assert [urlsplit(r.path).path.removeprefix("/rest/api/1.0") for r in sim.api_requests()] == paths
    assert repo_dirs(dest) == set(sim.repo_names("bitbucket-server"))
    done = {e["repo"] for e in events if e["event"] == "repo_done"}
    assert done == {f"{owner}/{name}" for name in sim.repo_names("bitbucket-server")}


def test_data_center_has_no_change_signal_so_every_repo_is_checked_on_every_sync(forge_factory: Any, tmp_path: Path) -> None:
    """Each clone is checked with one ``git ls-remote`` (no API quota); only the one that moved is fetched too."""
    sim = forge_factory(org="acme", repos=12)
    dest = tmp_path / "acme"
    assert run_pipeline(server(sim, dest))[0] == 0
    names = sim.repo_names("bitbucket-server")
    pushed = names[4]
    head = sim.push_commit(pushed)
    sim.clear_log()

    code, _, events = run_pipeline(server(sim, dest))

    assert code == 0
    fetched = [name for r in sim.requests() if r.kind == "git" and "info/refs" in r.path if (name := git_path_name(r.path, "acme"))]
    assert sorted(fetched) == sorted([*names, pushed]), "with no change signal every repo is asked, the pushed one fetched"
    outcomes = {e["repo"].removeprefix("acme/"): e["outcome"] for e in events if e["event"] == "repo_done"}
    assert outcomes == {name: "updated" if name == pushed else "unchanged" for name in names}
    assert git_head(dest / pushed, "origin/main") == head


def test_data_center_empty_token_bucket_is_waited_for_before_it_refuses(forge_factory: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    scenario = Scenario(primary_limit=2, primary_window=30, bitbucket_server_page_max=50)
    sim = forge_factory(org="acme", repos=300, clock=clock, scenario=scenario)
    code, _, events = run_pipeline(server(sim, tmp_path / "acme", dry_run=True, buffer=1000), clock=clock)
    assert code == 0 and events[-1]["listed"] == 300
    waits = waits_of(events, "primary") + waits_of(events, "pacing")
    assert waits, "X-RateLimit-Remaining: 0 with Retry-After schedules a wait"
    assert not [r for r in sim.api_requests() if r.rate_limited], "the client never needed a 429 to learn it must wait"
    assert_quiet_during(sim, waits)


def test_data_center_429_retry_after_is_waited_out(forge_factory: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    scenario = Scenario(secondary_every=2, secondary_retry_after=7, bitbucket_server_page_max=50)
    sim = forge_factory(org="acme", repos=200, clock=clock, scenario=scenario)
    code, _, events = run_pipeline(server(sim, tmp_path / "acme", dry_run=True, buffer=1000), clock=clock)
    assert code == 0 and events[-1]["listed"] == 200
    waits = waits_of(events, "throttled")
    assert waits and all(round(until - start) == 7 for start, until in waits)
    assert_quiet_during(sim, waits)


def test_data_center_page_that_is_not_last_but_names_no_later_start_stops_the_listing(forge_factory: Any, tmp_path: Path) -> None:
    scenario = Scenario(hostile_listing="self_next", hostile_listing_page=2, bitbucket_server_page_max=50)
    sim = forge_factory(org="acme", repos=130, scenario=scenario)
    code, _, events = run_pipeline(server(sim, tmp_path / "acme", dry_run=True, buffer=500))
    assert code == 1
    (failed,) = [e for e in events if e["event"] == "listing_failed"]
    assert "unreadable listing page" in failed["message"]
    assert len(sim.api_requests()) == 2, "a page pointing back at itself is not asked again"


# --------------------------------------------------------------------------- front ends


def test_status_and_a_config_file_of_bitbucket_targets(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=10)
    cloud_dest, dc_dest = tmp_path / "cloud", tmp_path / "dc"
    Path(os.environ["GZ_TUI_CONFIG"]).write_text(
        f'[targets.cloud]\nprovider = "bitbucket"\nbase_url = "{sim.base_url}"\nowner = "acme"\ndest = "{cloud_dest}"\n'
        f'[targets.dc]\nprovider = "bitbucket-server"\nbase_url = "{sim.base_url}"\nowner = "ACME"\ndest = "{dc_dest}"\n'
        '[targets.nowhere]\nprovider = "bitbucket-server"\nowner = "ACME"\n'
    )
    missing = run_cli("sync", "nowhere")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "bitbucket-server has no public instance" in missing.stderr and "Traceback" not in missing.stderr

    result = run_cli("sync", "cloud", "dc", "--json")

    assert result.returncode == 0, result.stderr
    names = set(sim.repo_names("bitbucket"))
    assert repo_dirs(cloud_dest) == names and repo_dirs(dc_dest) == names
    status = run_cli("status", str(dc_dest))
    assert status.returncode == 0 and f"bitbucket-server ACME ({sim.base_url})" in status.stdout
    assert f"bitbucket acme ({sim.base_url})" in run_cli("status", str(cloud_dest)).stdout
