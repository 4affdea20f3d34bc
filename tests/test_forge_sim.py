"""The embedded forge speaks GitHub REST and git smart HTTP the way the real ones do.

Every test talks to a real ``ForgeSim`` over TCP with httpx and real ``git`` processes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gz_tui.forge_sim import ForgeSim, RequestRecord

LINK = re.compile(r'<([^>]*)>; rel="([^"]+)"')
TOKEN = "s3cret-token"


def rels(link: str) -> list[str]:
    return [rel for _, rel in LINK.findall(link)]


def link_url(link: str, rel: str) -> str | None:
    return next((url for url, r in LINK.findall(link) if r == rel), None)


def link_to(link: str, rel: str) -> str:
    """The URL of ``rel`` in a ``Link`` header, which must have it."""
    url = link_url(link, rel)
    assert url is not None, f"no rel={rel!r} in {link!r}"
    return url


def walk(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], list[httpx.Response]]:
    """Follow ``rel="next"`` verbatim until there is none."""
    items: list[dict[str, Any]] = []
    pages: list[httpx.Response] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response)
        items += response.json()
        next_url = link_url(response.headers.get("link", ""), "next")
    return items, pages


def git_env(token: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    if token is not None:
        basic = base64.b64encode(f"x:{token}".encode()).decode()
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
        )
    return env


def git(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["git", *args], check=False, env=env or git_env(), capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[ForgeSim]:
    with ForgeSim(tmp_path / "forge", repos=250) as forge:
        yield forge


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


# -- listing and pagination --


@pytest.mark.parametrize("per_page", [100, 30])
def test_following_next_returns_every_repo_exactly_once(sim: ForgeSim, client: httpx.Client, per_page: int) -> None:
    items, pages = walk(client, f"{sim.base_url}/orgs/acme/repos?per_page={per_page}")
    names = [item["name"] for item in items]
    assert len(names) == len(set(names)) == 250
    assert set(names) == set(sim.repo_names())
    assert len(pages) == -(-250 // per_page)
    assert all(len(p.json()) == per_page for p in pages[:-1])


def test_link_rels_on_first_middle_and_last_page(sim: ForgeSim, client: httpx.Client) -> None:
    first = client.get(f"{sim.base_url}/orgs/acme/repos", params={"per_page": 100})
    org_id = client.get(f"{sim.base_url}/orgs/acme").json()["id"]
    link = first.headers["link"]
    assert rels(link) == ["next", "last"]
    base = f"{sim.base_url}/organizations/{org_id}/repos"
    assert link == f'<{base}?per_page=100&page=2>; rel="next", <{base}?per_page=100&page=3>; rel="last"'

    middle = client.get(link_to(link, "next"))
    assert rels(middle.headers["link"]) == ["prev", "next", "last", "first"]
    assert link_url(middle.headers["link"], "first") == f"{base}?per_page=100&page=1"

    last = client.get(link_to(middle.headers["link"], "next"))
    assert rels(last.headers["link"]) == ["prev", "first"]
    assert len(last.json()) == 50


def test_query_parameters_are_kept_and_sorting_is_honoured(sim: ForgeSim, client: httpx.Client) -> None:
    response = client.get(f"{sim.base_url}/orgs/acme/repos?sort=created&direction=asc&per_page=10")
    assert "sort=created&direction=asc&per_page=10&page=2" in link_to(response.headers["link"], "next")
    created = [item["created_at"] for item in response.json()]
    assert created == sorted(created)
    newest = client.get(f"{sim.base_url}/orgs/acme/repos?per_page=10").json()  # default: created desc
    assert newest[0]["name"] == sim.repo_names()[-1]
    by_name = client.get(f"{sim.base_url}/orgs/acme/repos?sort=full_name&per_page=100").json()
    assert [r["full_name"] for r in by_name] == sorted(r["full_name"] for r in by_name)
    forks = client.get(f"{sim.base_url}/orgs/acme/repos?type=forks&per_page=100").json()
    assert forks and all(r["fork"] for r in forks)


def test_api_v3_prefix_serves_the_same_api_and_keeps_the_prefix_in_links(sim: ForgeSim, client: httpx.Client) -> None:
    response = client.get(f"{sim.base_url}/api/v3/orgs/acme/repos?per_page=100")
    assert response.status_code == 200
    assert link_to(response.headers["link"], "next").startswith(f"{sim.base_url}/api/v3/organizations/")
    items, _ = walk(client, f"{sim.base_url}/api/v3/orgs/acme/repos?per_page=100")
    assert len(items) == 250


def test_one_page_listing_has_no_link_header(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=5) as small:
        response = client.get(f"{small.base_url}/orgs/acme/repos")
        assert response.status_code == 200 and len(response.json()) == 5
        assert "link" not in response.headers


def test_repo_objects_and_headers_look_like_github(sim: ForgeSim, client: httpx.Client) -> None:
    response = client.get(f"{sim.base_url}/orgs/ACME/repos?per_page=100&sort=created&direction=asc")
    headers = response.headers
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["x-github-api-version-selected"] == "2022-11-28"
    assert headers["x-ratelimit-resource"] == "core"
    assert headers["x-ratelimit-limit"] == "5000"
    assert int(headers["x-ratelimit-used"]) + int(headers["x-ratelimit-remaining"]) == 5000
    assert int(headers["x-ratelimit-reset"]) > time.time()
    assert re.fullmatch(r'W/"[0-9a-f]{64}"', headers["etag"])
    repos = response.json()
    first = repos[0]
    assert 3_500 < len(json.dumps(first)) < 8_000
    assert first["full_name"] == f"acme/{first['name']}"
    assert first["clone_url"] == f"{sim.base_url}/acme/{first['name']}.git"
    assert first["ssh_url"] == f"git@127.0.0.1:acme/{first['name']}.git"
    assert first["owner"]["login"] == "acme" and first["owner"]["type"] == "Organization"
    assert first["default_branch"] == "main"
    for key in (
        "node_id",
        "html_url",
        "url",
        "pushed_at",
        "archived",
        "disabled",
        "visibility",
        "permissions",
        "topics",
    ):
        assert key in first
    assert any(r["fork"] for r in repos) and any(r["archived"] for r in repos)
    assert any(r["pushed_at"] is None for r in repos)
    assert any(r["private"] for r in repos)


def test_owner_kind_user_lists_under_users_and_hides_orgs(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, org="octocat", repos=45, owner_kind="user") as user:
        assert client.get(f"{user.base_url}/orgs/octocat").status_code == 404
        assert client.get(f"{user.base_url}/orgs/octocat/repos").status_code == 404
        profile = client.get(f"{user.base_url}/users/octocat").json()
        assert profile["type"] == "User" and profile["login"] == "octocat"
        first = client.get(f"{user.base_url}/users/octocat/repos")
        assert f"/user/{profile['id']}/repos?page=2" in first.headers["link"]
        items, _ = walk(client, f"{user.base_url}/users/octocat/repos")
        public = sorted(i["name"] for i in items)
        assert public and not any(i["private"] for i in items)
        assert client.get(f"{user.base_url}/user").status_code == 401
        assert client.get(f"{user.base_url}/user/repos").status_code == 401
        as_owner = {"Authorization": "Bearer any"}
        assert client.get(f"{user.base_url}/user", headers=as_owner).json()["login"] == "octocat"
        own, _ = walk(client, f"{user.base_url}/user/repos?affiliation=owner&per_page=10", headers=as_owner)
        assert sorted(i["name"] for i in own) == sorted(user.repo_names())
        assert set(public) < {i["name"] for i in own}
        # GitHub's default affiliation adds the repos the user collaborates on (owned by others).
        every, _ = walk(client, f"{user.base_url}/user/repos?per_page=10", headers=as_owner)
        assert {i["full_name"] for i in every} - {i["full_name"] for i in own} == {"partners/shared-lib", "partners/shared-tool"}


def test_if_none_match_gives_304_without_spending_quota(sim: ForgeSim, client: httpx.Client) -> None:
    url = f"{sim.base_url}/orgs/acme/repos?per_page=30"
    first = client.get(url)
    etag = first.headers["etag"]
    before = int(first.headers["x-ratelimit-remaining"])
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert int(again.headers["x-ratelimit-remaining"]) == before
    assert client.get(url).headers["x-ratelimit-remaining"] == str(before - 1)
    records = sim.api_requests()
    assert [r.conditional for r in records] == [False, True, False]
    assert records[1].status == 304


def test_rate_limit_endpoint_spends_no_quota(sim: ForgeSim, client: httpx.Client) -> None:
    client.get(f"{sim.base_url}/orgs/acme")
    body = client.get(f"{sim.base_url}/rate_limit").json()
    assert body["resources"]["core"]["used"] == 1 and body["rate"]["remaining"] == 4999
    assert client.get(f"{sim.base_url}/rate_limit").json()["resources"]["core"]["used"] == 1


def test_bad_credentials_and_not_found_bodies(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=3, token=TOKEN) as locked:
        url = f"{locked.base_url}/orgs/acme/repos"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            response = client.get(url, headers=headers)
            assert response.status_code == 401
            assert response.json() == {
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest",
                "status": "401",
            }
        assert client.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert client.get(url, headers={"Authorization": f"token {TOKEN}"}).status_code == 200
        missing = client.get(f"{locked.base_url}/orgs/nope/repos", headers={"Authorization": f"token {TOKEN}"})
        assert missing.status_code == 404
        assert missing.json() == {
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest",
            "status": "404",
        }


def test_request_log_records_every_request_without_secrets(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=3, token=TOKEN) as locked:
        client.get(f"{locked.base_url}/orgs/acme/repos?access_token={TOKEN}", headers={"Authorization": f"token {TOKEN}"})
        client.get(f"{locked.base_url}/acme/repo-00001.git/info/refs?service=git-upload-pack")
        records = locked.requests()
        assert [(r.kind, r.provider, r.status, r.method) for r in records] == [
            ("api", "github", 200, "GET"),
            ("git", "git", 401, "GET"),
        ]
        assert all(isinstance(r, RequestRecord) and TOKEN not in r.path for r in records)
        assert records[0].path == "/orgs/acme/repos?access_token=REDACTED"
        assert records[1].path == "/acme/repo-00001.git/info/refs?service=git-upload-pack"
        assert len(locked.api_requests()) == 1
        locked.clear_log()
        assert locked.requests() == []


# -- git smart HTTP --


def test_clone_with_token_matches_head_of_and_fetch_sees_a_push(tmp_path: Path) -> None:
    with ForgeSim(tmp_path / "forge", repos=10, token=TOKEN) as locked:
        work = tmp_path / "clone"
        git("clone", "--quiet", "--", locked.git_url("repo-00004"), str(work), env=git_env(TOKEN))
        head = git("-C", str(work), "rev-parse", "HEAD").stdout.strip()
        assert head == locked.head_of("repo-00004")
        assert (work / "README.md").read_text().startswith("# repo-00004")
        assert "Authorization" not in (work / ".git" / "config").read_text()

        pushed = locked.push_commit("repo-00004")
        assert pushed != head and locked.head_of("repo-00004") == pushed
        git("-C", str(work), "fetch", "--quiet", "origin", env=git_env(TOKEN))
        assert git("-C", str(work), "rev-parse", "origin/main").stdout.strip() == pushed
        assert git("-C", str(work), "rev-parse", f"{pushed}^").stdout.strip() == head


def test_clone_without_the_token_fails_without_prompting(tmp_path: Path) -> None:
    with ForgeSim(tmp_path / "forge", repos=3, token=TOKEN) as locked:
        result = git("clone", "--", locked.git_url("repo-00001"), str(tmp_path / "c"), env=git_env(), check=False)
        assert result.returncode != 0
        assert "terminal prompts disabled" in result.stderr
        wrong = git("clone", "--", locked.git_url("repo-00001"), str(tmp_path / "d"), env=git_env("wrong"), check=False)
        assert wrong.returncode != 0
        refused = httpx.get(f"{locked.git_url('repo-00001')}/info/refs?service=git-upload-pack")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Basic realm="gz-tui forge"'
        bearer = httpx.get(
            f"{locked.git_url('repo-00001')}/info/refs?service=git-upload-pack",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert bearer.status_code == 200


def test_clone_without_a_token_configured_and_via_the_gitlab_path(tmp_path: Path) -> None:
    with ForgeSim(tmp_path / "forge", repos=10) as open_forge:
        gitlab_path = next(p for p in open_forge.repo_names("gitlab") if p.count("/") == 2)
        url = open_forge.git_url(gitlab_path)
        assert url == f"{open_forge.base_url}/acme/{gitlab_path}.git"
        git("clone", "--quiet", "--", url, str(tmp_path / "c"))
        name = gitlab_path.rsplit("/", 1)[-1]
        assert git("-C", str(tmp_path / "c"), "rev-parse", "HEAD").stdout.strip() == open_forge.head_of(name)
        assert open_forge.head_of(gitlab_path) == open_forge.head_of(name)
        git_records = [r for r in open_forge.requests() if r.kind == "git"]
        assert [r.method for r in git_records][:1] == ["GET"] and all(r.status == 200 for r in git_records)


def test_unknown_repo_is_404_and_push_is_refused(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path / "forge", repos=3) as open_forge:
        missing = git("ls-remote", f"{open_forge.base_url}/acme/nope.git", check=False)
        assert missing.returncode != 0 and "not found" in missing.stderr
        assert client.get(f"{open_forge.base_url}/acme/nope.git/info/refs?service=git-upload-pack").status_code == 404
        assert client.get(f"{open_forge.base_url}/other/repo-00001.git/info/refs?service=git-upload-pack").status_code == 404
        push = client.get(f"{open_forge.git_url('repo-00001')}/info/refs?service=git-receive-pack")
        assert push.status_code == 403
        assert client.post(f"{open_forge.git_url('repo-00001')}/git-receive-pack", content=b"0000").status_code == 403


def test_bare_repos_are_created_lazily_and_safely_in_parallel(tmp_path: Path) -> None:
    root = tmp_path / "forge"
    with ForgeSim(root, repos=10_000) as big:
        assert not (root / "acme").exists()
        url = big.git_url("repo-07777")
        results: list[subprocess.CompletedProcess[str]] = []

        def clone(target: str) -> None:
            results.append(git("clone", "--quiet", "--", url, str(tmp_path / target), check=False))

        threads = [threading.Thread(target=clone, args=(f"c{i}",)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
        assert [p.name for p in (root / "acme").iterdir()] == ["repo-07777.git"]
        heads = {git("-C", str(tmp_path / f"c{i}"), "rev-parse", "HEAD").stdout.strip() for i in range(3)}
        assert heads == {big.head_of("repo-07777")}
        assert big.head_of("repo-00001") != big.head_of("repo-00002")


def test_add_and_remove_repo_change_listing_and_git(sim: ForgeSim, client: httpx.Client) -> None:
    sim.add_repo("brand-new")
    assert sim.repo_names()[-1] == "brand-new"
    newest = client.get(f"{sim.base_url}/orgs/acme/repos?per_page=1").json()[0]
    assert newest["name"] == "brand-new"
    git("ls-remote", "--", sim.git_url("brand-new"))
    sim.remove_repo("repo-00010")
    assert "repo-00010" not in sim.repo_names()
    items, _ = walk(client, f"{sim.base_url}/orgs/acme/repos?per_page=100")
    assert len(items) == 250 and "repo-00010" not in {i["name"] for i in items}
    assert client.get(f"{sim.base_url}/acme/repo-00010.git/info/refs?service=git-upload-pack").status_code == 404
    with pytest.raises(ValueError):
        sim.add_repo("../escape")
    with pytest.raises(KeyError):
        sim.remove_repo("repo-00010")


# -- command line --


def test_cli_serves_10000_repos_quickly_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gz_tui.forge_sim",
            "--repos",
            "10000",
            "--root",
            str(tmp_path / "root"),
            "--token",
            TOKEN,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        assert time.monotonic() - started < 10
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        assert "10000 repos" in line
        response = httpx.get(f"{match.group(1)}/orgs/acme/repos?per_page=100", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert response.status_code == 200 and len(response.json()) == 100
        assert 'rel="last"' in response.headers["link"] and "page=100>" in response.headers["link"]
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in err
    assert out == ""


def test_chunked_and_protocol_v2_upload_pack_requests_are_understood(sim: ForgeSim) -> None:
    """git sends large fetch negotiations chunked; the forge must de-chunk before the CGI sees them."""

    def body() -> Iterator[bytes]:
        yield b"0014command=ls-refs\n"
        yield b"0000"

    response = httpx.post(
        f"{sim.git_url('repo-00002')}/git-upload-pack",
        content=body(),
        headers={"Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-git-upload-pack-result"
    assert f"{sim.head_of('repo-00002')} refs/heads/main".encode() in response.content
