"""Each ``Scenario`` knob makes the embedded forge misbehave exactly the way it says, on its own."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gz_tui.clock import FakeClock
from gz_tui.forge_sim import ForgeSim, Scenario
from gz_tui.forge_sim.hostile import HOSTILE_NAMES, HOSTILE_URLS
from tests.test_forge_sim import git, walk


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


def outcomes(base_url: str, count: int, path: str = "/orgs/acme") -> list[int | str]:
    """Status per request, ``"drop"`` when the server closed without answering."""
    seen: list[int | str] = []
    with httpx.Client(timeout=10) as c:
        for _ in range(count):
            try:
                seen.append(c.get(base_url + path).status_code)
            except httpx.RemoteProtocolError:
                seen.append("drop")
    return seen


# -- primary rate limit --


def test_primary_limit_last_unit_is_a_200_then_403_until_reset(tmp_path: Path, client: httpx.Client) -> None:
    clock = FakeClock()
    scenario = Scenario(primary_limit=3, primary_window=60)
    with ForgeSim(tmp_path, repos=5, scenario=scenario, clock=clock) as sim:
        url = f"{sim.base_url}/orgs/acme/repos"
        answers = [client.get(url) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
        reset = int(answers[-1].headers["x-ratelimit-reset"])
        assert reset == math.ceil(clock.now() + 60)

        clock.advance(30)
        for _ in range(2):
            refused = client.get(url)
            assert refused.status_code == 403
            assert refused.json() == {
                "message": "API rate limit exceeded for user ID 1.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                "status": "403",
            }
            assert refused.headers["x-ratelimit-remaining"] == "0"
            assert refused.headers["x-ratelimit-reset"] == str(reset)
        assert client.get(f"{sim.base_url}/rate_limit").json()["resources"]["core"]["remaining"] == 0

        clock.advance(reset - clock.now())
        again = client.get(url)
        assert again.status_code == 200 and again.headers["x-ratelimit-remaining"] == "2"
        assert int(again.headers["x-ratelimit-reset"]) == reset + 60
        assert [r.rate_limited for r in sim.api_requests()] == [False] * 3 + [True, True] + [False, False]
        assert all(r.time >= 1_800_000_000 for r in sim.requests())


def test_primary_limit_on_gitlab_and_gitea_is_a_429_with_retry_after(tmp_path: Path, client: httpx.Client) -> None:
    clock = FakeClock()
    with ForgeSim(tmp_path, repos=5, scenario=Scenario(primary_limit=2, primary_window=60), clock=clock) as sim:
        url = f"{sim.base_url}/api/v4/groups/acme/projects"
        ok = [client.get(url) for _ in range(2)]
        assert [r.headers["ratelimit-remaining"] for r in ok] == ["1", "0"]
        assert ok[1].headers["ratelimit-observed"] == "2" and ok[1].headers["ratelimit-limit"] == "2"
        clock.advance(20)
        throttled = client.get(url)
        assert throttled.status_code == 429
        assert throttled.text.strip() == "Retry later"
        assert throttled.headers["retry-after"] == "40"

        gitea = f"{sim.base_url}/api/v1/orgs/acme/repos"
        assert [client.get(gitea).status_code for _ in range(3)] == [200, 200, 429]
        assert int(client.get(gitea).headers["retry-after"]) == 60


# -- secondary rate limit --


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(403, 60), (403, None), (429, 30)],
)
def test_secondary_limit_every_nth_request(tmp_path: Path, client: httpx.Client, status: int, retry_after: int | None) -> None:
    scenario = Scenario(secondary_every=3, secondary_status=status, secondary_retry_after=retry_after)
    with ForgeSim(tmp_path, repos=5, scenario=scenario) as sim:
        answers = [client.get(f"{sim.base_url}/orgs/acme/repos") for _ in range(7)]
        assert [a.status_code for a in answers] == [200, 200, status, 200, 200, status, 200]
        limited = answers[2]
        body = limited.json()
        assert body["message"].startswith("You have exceeded a secondary rate limit. Please wait a few minutes")
        assert "documentation_url" in body
        assert not any(h.startswith("x-ratelimit") for h in limited.headers)
        assert limited.headers.get("retry-after") == (None if retry_after is None else str(retry_after))
        assert answers[3].headers["x-ratelimit-used"] == "3"  # secondary answers spend no primary quota
        assert [r.rate_limited for r in sim.api_requests()] == [False, False, True, False, False, True, False]


def test_secondary_limit_on_gitlab_is_a_plain_429(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=5, scenario=Scenario(secondary_every=2, secondary_retry_after=None)) as sim:
        answers = [client.get(f"{sim.base_url}/api/v4/groups/acme/projects") for _ in range(2)]
        assert answers[0].status_code == 200 and answers[1].status_code == 429
        assert answers[1].text.strip() == "Retry later" and "retry-after" not in answers[1].headers
        assert "ratelimit-remaining" not in answers[1].headers


# -- faults --


def test_fault_rate_gives_502_503_and_drops_deterministically_per_seed(tmp_path: Path) -> None:
    runs = []
    for index, seed in enumerate((11, 11, 12)):
        with ForgeSim(tmp_path / str(index), repos=5, scenario=Scenario(fault_rate=0.6, seed=seed)) as sim:
            runs.append(outcomes(sim.base_url, 40))
            records = sim.api_requests()
            assert len(records) == 40
            assert [r.status for r in records] == [0 if o == "drop" else o for o in runs[-1]]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert {200, 502, 503, "drop"} <= set(runs[0])
    assert 0.4 < sum(o != 200 for o in runs[0]) / 40 < 0.8


def test_error_status_answers_every_api_request_but_not_git(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path / "f", repos=3, scenario=Scenario(error_status=500)) as sim:
        for path in ("/orgs/acme/repos", "/api/v4/groups/acme/projects", "/api/v1/orgs/acme/repos"):
            response = client.get(sim.base_url + path)
            assert response.status_code == 500
            assert "message" in response.json()
        git("ls-remote", "--", sim.git_url("repo-00001"))


def test_latency_delays_api_requests_only(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=3, scenario=Scenario(latency=1.5)) as sim:
        started = time.monotonic()
        assert client.get(f"{sim.base_url}/orgs/acme").status_code == 200
        assert time.monotonic() - started >= 1.5
        started = time.monotonic()
        assert client.get(f"{sim.git_url('repo-00001')}/info/refs?service=git-upload-pack").status_code == 200
        assert time.monotonic() - started < 1.5, "git is served without the API's latency"


# -- churn --


def test_churn_ascending_walk_sees_every_surviving_repo_exactly_once(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=250, scenario=Scenario(churn=True)) as sim:
        before = sim.repo_names()
        items, _ = walk(client, f"{sim.base_url}/orgs/acme/repos?sort=created&direction=asc&per_page=30")
        after = sim.repo_names()
        assert len(set(before) - set(after)) == 3
        assert len(set(after) - set(before)) == 5
        assert [i["name"] for i in items] == after  # each survivor once, new ones at the end, no deleted one


def test_churn_breaks_a_newest_first_walk(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=250, scenario=Scenario(churn=True)) as sim:
        items, _ = walk(client, f"{sim.base_url}/orgs/acme/repos?per_page=30")
        names = [i["name"] for i in items]
        assert len(names) != len(set(names))  # new repos pushed page-2 items onto page 3
        assert not set(sim.repo_names()) <= set(names)


def test_churn_applies_to_gitlab_and_gitea_listings(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path / "gl", repos=120, scenario=Scenario(churn=True)) as sim:
        query = "include_subgroups=true&with_shared=false&order_by=id&sort=asc&per_page=20"
        items, _ = walk(client, f"{sim.base_url}/api/v4/groups/acme/projects?{query}")
        assert [i["path_with_namespace"] for i in items] == [f"acme/{p}" for p in sim.repo_names("gitlab")]
        assert len(items) == 122
    with ForgeSim(tmp_path / "gt", repos=120, scenario=Scenario(churn=True)) as sim:
        items, _ = walk(client, f"{sim.base_url}/api/v1/orgs/acme/repos?limit=20")
        assert [i["name"] for i in items] == sim.repo_names() and len(items) == 122


# -- hostile entries --


def test_hostile_entries_appear_in_all_three_listings(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path / "forge", repos=5, scenario=Scenario(hostile=True)) as sim:
        hostport = sim.base_url.removeprefix("http://")
        expected_urls = {url.replace("{hostport}", hostport).replace("{org}", "acme") for _, url in HOSTILE_URLS}

        response = client.get(f"{sim.base_url}/orgs/acme/repos?per_page=100")
        repos = response.json()
        names = {r["name"] for r in repos}
        assert set(HOSTILE_NAMES) | {".github", "stolen"} <= names
        assert expected_urls <= {r["clone_url"] for r in repos}
        assert "other/stolen" in {r["full_name"] for r in repos}
        assert b"bad\\nname" in response.content and b"\\u001b[31mred" in response.content
        for repo in repos:  # hostile entries are otherwise ordinary
            if repo["name"] in sim.hostile_names():
                assert isinstance(repo["id"], int) and repo["default_branch"] == "main" and repo["archived"] is False
                assert repo["owner"]["login"] in ("acme", "other") and repo["ssh_url"].startswith("git@127.0.0.1:")
        assert set(sim.hostile_names()) == names - set(sim.repo_names())
        assert ".github" in sim.repo_names()

        projects = client.get(f"{sim.base_url}/api/v4/groups/acme/projects?per_page=100&with_shared=false").json()
        paths = {p["path_with_namespace"] for p in projects}
        assert {"acme/../escape", "acme/a/b", "acme/-rf", "other/stolen", "acme/.github"} <= paths
        assert expected_urls <= {p["http_url_to_repo"] for p in projects}

        gitea = client.get(f"{sim.base_url}/api/v1/orgs/acme/repos?limit=50").json()
        assert set(HOSTILE_NAMES) <= {r["name"] for r in gitea}
        assert expected_urls <= {r["clone_url"] for r in gitea}

        dot_github = next(r for r in repos if r["name"] == ".github")
        git("clone", "--quiet", "--", dot_github["clone_url"], str(tmp_path / "dotgithub"))
        assert (tmp_path / "dotgithub" / "README.md").read_text().startswith("# .github")
        for bad in ("userinfo", "evil-ext"):
            assert client.get(f"{sim.base_url}/acme/{bad}.git/info/refs?service=git-upload-pack").status_code == 404


# -- git side --


def test_git_throttle_answers_some_info_refs_with_429_or_503(tmp_path: Path) -> None:
    runs = []
    for index in range(2):
        with ForgeSim(tmp_path / str(index), repos=3, scenario=Scenario(git_throttle_rate=0.5, seed=3)) as sim:
            runs.append(outcomes(sim.base_url, 24, "/acme/repo-00001.git/info/refs?service=git-upload-pack"))
            limited = [r.rate_limited for r in sim.requests()]
            assert limited == [o == 429 for o in runs[-1]]
            assert not sim.api_requests()
    assert runs[0] == runs[1]
    assert {200, 429, 503} <= set(runs[0])


def test_repo_size_kb_adds_a_shared_incompressible_blob(tmp_path: Path) -> None:
    root = tmp_path / "forge"
    with ForgeSim(root, repos=3, scenario=Scenario(repo_size_kb=300)) as sim:
        for name in ("repo-00001", "repo-00002"):
            git("clone", "--quiet", "--", sim.git_url(name), str(tmp_path / name))
            assert (tmp_path / name / "data.bin").stat().st_size == 300 * 1024
        packs = [next((root / "acme" / f"{n}.git" / "objects" / "pack").glob("*.pack")) for n in ("repo-00001", "repo-00002")]
        assert os.stat(packs[0]).st_ino == os.stat(packs[1]).st_ino  # hard-linked, not copied
        pushed = sim.push_commit("repo-00001")
        git("-C", str(tmp_path / "repo-00001"), "pull", "--quiet")
        assert git("-C", str(tmp_path / "repo-00001"), "rev-parse", "HEAD").stdout.strip() == pushed
        assert (tmp_path / "repo-00001" / "data.bin").stat().st_size == 300 * 1024
        git("-C", str(root / "acme" / "repo-00001.git"), "fsck", "--strict")
