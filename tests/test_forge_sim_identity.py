"""The embedded forge knows repos by id as the real forges do: renames, re-created names, deletions mid-listing,
per-repo lookups with each forge's own "moved" and "not found" answers, and "who am I" (issue 24).

Plain httpx and git against a running ``ForgeSim``; the shapes are the recorded or documented ones cited in the
sim's docstrings (octokit/fixtures ``rename-repository``, gitlabhq ``lib/api/helpers.rb``, go-gitea ``RedirectToRepo``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from gz_tui.forge_sim import ForgeSim, Scenario
from tests.test_forge_sim import LINK, git, git_env, link_url, walk

TOKEN = "s3cret-token"
FLAVOURS = ("github", "gitlab", "gitea")


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


def first_url(sim: ForgeSim, flavour: str, per_page: int = 10) -> str:
    """The first page of each flavour's full listing, oldest first (so a deletion can only shift pages back)."""
    if flavour == "github":
        return f"{sim.base_url}/orgs/acme/repos?sort=created&direction=asc&per_page={per_page}"
    if flavour == "gitlab":
        query = f"include_subgroups=true&with_shared=false&order_by=id&sort=asc&per_page={per_page}"
        return f"{sim.base_url}/api/v4/groups/acme/projects?{query}"
    return f"{sim.base_url}/api/v1/orgs/acme/repos?limit={per_page}"


def leaf(item: dict[str, Any]) -> str:
    return str(item.get("path") or item["name"])


def total_of(response: httpx.Response) -> int:
    return int(response.headers.get("x-total") or response.headers["x-total-count"])


# -- renames --


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_renamed_repo_keeps_its_id_and_every_listing_shows_only_the_new_name(tmp_path: Path, client: httpx.Client, flavour: str) -> None:
    with ForgeSim(tmp_path, repos=25) as sim:
        before = {leaf(i): i["id"] for i in walk(client, first_url(sim, flavour))[0]}
        number = sim.rename_repo("repo-00007", "renamed-7")
        after = {leaf(i): i["id"] for i in walk(client, first_url(sim, flavour))[0]}
        assert number == before["repo-00007"] == after["renamed-7"] == sim.repo_id("renamed-7")
        assert "repo-00007" not in after and len(after) == len(before)
        assert "renamed-7" in sim.repo_names() and "repo-00007" not in sim.repo_names()


def test_github_answers_an_old_name_with_301_to_the_repo_by_id_as_recorded(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=10) as sim:
        number = sim.rename_repo("repo-00003", "fresh-name")
        moved = client.get(f"{sim.base_url}/repos/acme/repo-00003")
        location = f"{sim.base_url}/repositories/{number}"
        assert moved.status_code == 301 and moved.headers["location"] == location
        assert moved.json() == {
            "message": "Moved Permanently",
            "url": location,
            "documentation_url": "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects",
        }
        assert "x-ratelimit-remaining" in moved.headers  # the 301 spends quota and says so, like every answer
        followed = client.get(f"{sim.base_url}/repos/acme/repo-00003", follow_redirects=True)
        assert followed.status_code == 200 and followed.json()["full_name"] == "acme/fresh-name"
        topics = client.get(f"{sim.base_url}/api/v3/repos/acme/repo-00003/topics?x=1")
        assert topics.status_code == 301 and topics.headers["location"] == f"{sim.base_url}/api/v3/repositories/{number}/topics?x=1"
        assert client.get(f"{sim.base_url}/repos/acme/fresh-name").json()["id"] == number


@pytest.mark.parametrize(("version", "status"), [(None, 307), ((1, 15), 302)])
def test_gitea_answers_an_old_name_with_a_redirect_to_the_new_name(
    tmp_path: Path, client: httpx.Client, version: tuple[int, int] | None, status: int
) -> None:
    with ForgeSim(tmp_path, repos=10, scenario=Scenario(gitea_version=version)) as sim:
        number = sim.rename_repo("repo-00004", "fresh-name")
        moved = client.get(f"{sim.base_url}/api/v1/repos/acme/repo-00004/topics?limit=5")
        assert moved.status_code == status
        assert moved.headers["location"] == "/api/v1/repos/acme/fresh-name/topics?limit=5"
        followed = client.get(f"{sim.base_url}/api/v1/repos/acme/repo-00004", follow_redirects=True)
        assert followed.status_code == 200 and followed.json()["id"] == number and followed.json()["name"] == "fresh-name"


def test_gitlab_answers_an_old_path_with_301_to_the_project_by_id_and_by_id_as_it_is_now(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=10) as sim:
        old = next(p for p in sim.repo_names("gitlab") if p.count("/") == 2)
        number = sim.rename_repo(old, "fresh-name")
        new = old.rsplit("/", 1)[0] + "/fresh-name"
        moved = client.get(f"{sim.base_url}/api/v4/projects/{quote('acme/' + old, safe='')}")
        location = f"{sim.base_url}/api/v4/projects/{number}"
        assert moved.status_code == 301 and moved.headers["location"] == location
        assert moved.text == f"This resource has been moved permanently to {location}"
        assert client.get(location).json()["path_with_namespace"] == f"acme/{new}"
        by_new_path = client.get(f"{sim.base_url}/api/v4/projects/{quote('acme/' + new, safe='')}")
        assert by_new_path.status_code == 200 and by_new_path.json()["id"] == number
        languages = client.get(f"{sim.base_url}/api/v4/projects/{quote('acme/' + old, safe='')}/languages")
        assert languages.status_code == 301 and languages.headers["location"] == f"{location}/languages"


@pytest.mark.parametrize("status", [301, 307])
def test_git_at_a_renamed_repos_old_url_redirects_to_the_same_history(tmp_path: Path, status: int) -> None:
    with ForgeSim(tmp_path / "forge", repos=10, scenario=Scenario(git_redirect_status=status)) as sim:
        head = sim.head_of("repo-00005")
        sim.rename_repo("repo-00005", "fresh-name")
        old_url = f"{sim.base_url}/acme/repo-00005.git"
        clone = git("clone", "--", old_url, str(tmp_path / "c"))
        assert "redirecting to" in clone.stderr and f"{sim.base_url}/acme/fresh-name.git/" in clone.stderr
        assert git("-C", str(tmp_path / "c"), "rev-parse", "HEAD").stdout.strip() == head == sim.head_of("fresh-name")
        first = next(r for r in sim.requests() if r.kind == "git")
        assert first.status == status and first.path.startswith("/acme/repo-00005.git/info/refs")


def test_git_at_an_old_gitlab_subgroup_url_is_served_in_place(tmp_path: Path) -> None:
    with ForgeSim(tmp_path / "forge", repos=10) as sim:
        old = next(p for p in sim.repo_names("gitlab") if "/" in p)
        head = sim.head_of(old)
        sim.rename_repo(old, "fresh-name")
        listed = git("ls-remote", "--", f"{sim.base_url}/acme/{old}.git").stdout
        assert f"{head}\tHEAD" in listed
        statuses = [r.status for r in sim.requests() if r.kind == "git"]
        assert statuses and set(statuses) == {200}  # no redirect: GitLab follows its redirect routes itself


def test_a_name_taken_again_after_a_rename_stops_redirecting(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=10) as sim:
        renamed = sim.rename_repo("repo-00002", "fresh-name")
        sim.add_repo("repo-00002")
        again = client.get(f"{sim.base_url}/repos/acme/repo-00002")
        assert again.status_code == 200 and again.json()["id"] not in (renamed, None)
        assert client.get(f"{sim.base_url}/api/v1/repos/acme/repo-00002").json()["id"] == again.json()["id"]


# -- re-created names --


def test_a_recreated_repo_has_a_new_id_and_an_unrelated_history_at_the_same_url(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path / "forge", repos=12) as sim:
        url = sim.git_url("repo-00006")
        old_id, old_head = sim.repo_id("repo-00006"), sim.head_of("repo-00006")
        before = client.get(f"{sim.base_url}/repositories/{old_id}").json()
        git("clone", "--quiet", "--", url, str(tmp_path / "c"))
        new_id = sim.recreate_repo("repo-00006")
        assert new_id != old_id and sim.repo_id("repo-00006") == new_id and sim.git_url("repo-00006") == url
        new_head = sim.head_of("repo-00006")
        assert new_head != old_head
        git("-C", str(tmp_path / "c"), "fetch", "--quiet", "origin")
        assert git("-C", str(tmp_path / "c"), "rev-parse", "origin/main").stdout.strip() == new_head
        unrelated = git("-C", str(tmp_path / "c"), "merge-base", old_head, new_head, check=False)
        assert unrelated.returncode == 1 and unrelated.stdout == ""  # no common ancestor: another repo's history
        for flavour in FLAVOURS:
            ids = {leaf(i): i["id"] for i in walk(client, first_url(sim, flavour))[0]}
            assert ids["repo-00006"] == new_id
        after = client.get(f"{sim.base_url}/repositories/{new_id}").json()
        same = ("name", "private", "fork", "archived", "topics", "language", "has_wiki", "clone_url")
        assert {k: after[k] for k in same} == {k: before[k] for k in same} and after["created_at"] > before["created_at"]
        assert client.get(f"{sim.base_url}/repositories/{old_id}").status_code == 404
        assert client.get(f"{sim.base_url}/api/v4/projects/{old_id}").status_code == 404
        assert client.get(f"{sim.base_url}/api/v1/repositories/{old_id}").status_code == 404


# -- deletions while the listing pages --


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_repo_deleted_behind_the_cursor_hides_one_surviving_repo_from_that_walk(
    tmp_path: Path, client: httpx.Client, flavour: str
) -> None:
    with ForgeSim(tmp_path, repos=35) as sim:
        victim = sim.repo_names()[0]
        sim.remove_repo_after_page(1)
        items, pages = walk(client, first_url(sim, flavour))
        seen = {leaf(i) for i in items}
        surviving = {n.rsplit("/", 1)[-1] for n in sim.repo_names()}
        assert victim not in surviving and victim in seen  # it was on page 1, then deleted
        assert len(surviving - seen) == 1  # everything after it moved one place back: one repo slipped past the cursor
        if flavour != "github":
            assert total_of(pages[1]) == total_of(pages[0]) - 1


def test_githubs_org_counts_follow_the_catalog(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=30, token=TOKEN) as sim:
        auth = {"Authorization": f"Bearer {TOKEN}"}

        def counted() -> int:
            org = client.get(f"{sim.base_url}/orgs/acme", headers=auth).json()
            return int(org["public_repos"]) + int(org["total_private_repos"])

        listed, _ = walk(client, first_url(sim, "github"), headers=auth)
        assert counted() == len(listed) == 30
        assert any(i["private"] for i in listed)
        sim.remove_repo("repo-00004")
        assert counted() == 29


def test_remove_repo_after_page_deletes_the_named_repo_once(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=30) as sim:
        sim.remove_repo_after_page(2, "repo-00025")
        first = client.get(first_url(sim, "gitea"))
        second = link_url(first.headers["link"], "next")
        assert second is not None and "repo-00025" in sim.repo_names()
        client.get(second)
        assert "repo-00025" not in sim.repo_names() and len(sim.repo_names()) == 29
        client.get(second)
        assert len(sim.repo_names()) == 29


# -- per-repo lookups --


def test_per_repo_lookups_answer_the_repo_or_each_forges_own_not_found(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=10) as sim:
        number = sim.repo_id("repo-00003")
        path = next(p for p in sim.repo_names("gitlab") if p.endswith("repo-00003"))
        found = {
            "github by id": client.get(f"{sim.base_url}/repositories/{number}"),
            "github by name": client.get(f"{sim.base_url}/repos/acme/repo-00003"),
            "gitlab by id": client.get(f"{sim.base_url}/api/v4/projects/{number}"),
            "gitlab by path": client.get(f"{sim.base_url}/api/v4/projects/{quote('acme/' + path, safe='')}"),
            "gitea by id": client.get(f"{sim.base_url}/api/v1/repositories/{number}"),
            "gitea by name": client.get(f"{sim.base_url}/api/v1/repos/acme/repo-00003"),
        }
        assert {k: (r.status_code, r.json()["id"]) for k, r in found.items()} == {k: (200, number) for k in found}
        missing = {
            "github": client.get(f"{sim.base_url}/repositories/1"),
            "github by name": client.get(f"{sim.base_url}/repos/acme/nope"),
            "gitlab": client.get(f"{sim.base_url}/api/v4/projects/1"),
            "gitlab by path": client.get(f"{sim.base_url}/api/v4/projects/{quote('acme/nope', safe='')}"),
            "gitea": client.get(f"{sim.base_url}/api/v1/repositories/1"),
            "gitea by name": client.get(f"{sim.base_url}/api/v1/repos/acme/nope"),
        }
        assert {k: r.status_code for k, r in missing.items()} == {k: 404 for k in missing}
        github_404 = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}
        assert missing["github"].json() == missing["github by name"].json() == github_404
        assert missing["gitlab"].json() == missing["gitlab by path"].json() == {"message": "404 Project Not Found"}
        assert missing["gitea"].json()["message"] == "The target couldn't be found."
        assert missing["gitea by name"].json()["url"].endswith("/api/swagger")


# -- who am I, and tokens served as anonymous --


WHO_AM_I = {"github": "/user", "gitlab": "/api/v4/user", "gitea": "/api/v1/user"}
AUTH = {
    "github": {"Authorization": f"Bearer {TOKEN}"},
    "gitlab": {"PRIVATE-TOKEN": TOKEN},
    "gitea": {"Authorization": f"token {TOKEN}"},
}
WRONG = {"github": {"Authorization": "Bearer wrong"}, "gitlab": {"PRIVATE-TOKEN": "wrong"}, "gitea": {"Authorization": "token wrong"}}


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("anonymous", [False, True])
def test_who_am_i_names_the_tokens_user_and_refuses_anyone_else(
    tmp_path: Path, client: httpx.Client, flavour: str, anonymous: bool
) -> None:
    with ForgeSim(tmp_path, repos=3, token=TOKEN, scenario=Scenario(bad_token_as_anonymous=anonymous)) as sim:
        url = f"{sim.base_url}{WHO_AM_I[flavour]}"
        me = client.get(url, headers=AUTH[flavour])
        assert me.status_code == 200
        assert me.json()["login" if flavour != "gitlab" else "username"] == sim.token_user
        assert client.get(url, headers=WRONG[flavour]).status_code == 401
        assert client.get(url).status_code == 401


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_with_no_token_configured_who_am_i_still_needs_a_credential(tmp_path: Path, client: httpx.Client, flavour: str) -> None:
    with ForgeSim(tmp_path, repos=3) as sim:
        url = f"{sim.base_url}{WHO_AM_I[flavour]}"
        assert client.get(url).status_code == 401
        assert client.get(url, headers=AUTH[flavour]).status_code == 200


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_wrong_token_served_as_anonymous_lists_the_public_repos_only(tmp_path: Path, client: httpx.Client, flavour: str) -> None:
    with ForgeSim(tmp_path, repos=40, token=TOKEN, scenario=Scenario(bad_token_as_anonymous=True)) as sim:
        owner_view, owner_pages = walk(client, first_url(sim, flavour), headers=AUTH[flavour])
        anonymous_view, anonymous_pages = walk(client, first_url(sim, flavour), headers=WRONG[flavour])
        private = {leaf(i) for i in owner_view if i.get("private") or i.get("visibility") == "private"}
        assert len(owner_view) == 40 and len(private) == 8
        assert {leaf(i) for i in anonymous_view} == {leaf(i) for i in owner_view} - private
        if flavour != "github":
            assert total_of(owner_pages[0]) == 40 and total_of(anonymous_pages[0]) == 32
        hidden = sorted(private)[0]
        lookups = {
            "github": f"/repos/acme/{hidden}",
            "gitlab": f"/api/v4/projects/{sim.repo_id(hidden)}",
            "gitea": f"/api/v1/repos/acme/{hidden}",
        }
        assert client.get(f"{sim.base_url}{lookups[flavour]}", headers=WRONG[flavour]).status_code == 404
        assert client.get(f"{sim.base_url}{lookups[flavour]}", headers=AUTH[flavour]).status_code == 200
        labels = {r.credential for r in sim.api_requests()}
        assert labels == {"token", "anonymous"}


def test_github_org_counts_show_private_repos_to_members_only(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=20, token=TOKEN, scenario=Scenario(bad_token_as_anonymous=True)) as sim:
        member = client.get(f"{sim.base_url}/orgs/acme", headers=AUTH["github"]).json()
        stranger = client.get(f"{sim.base_url}/orgs/acme").json()
        assert (member["public_repos"], member["total_private_repos"]) == (16, 4)
        assert stranger["public_repos"] == 16 and "total_private_repos" not in stranger
        assert [r.credential for r in sim.api_requests()] == ["token", "none"]


def test_git_still_refuses_a_wrong_token_when_the_api_serves_it_as_anonymous(tmp_path: Path) -> None:
    with ForgeSim(tmp_path / "forge", repos=3, token=TOKEN, scenario=Scenario(bad_token_as_anonymous=True)) as sim:
        wrong = git("ls-remote", "--", sim.git_url("repo-00001"), env=git_env("wrong"), check=False)
        assert wrong.returncode != 0
        assert git("ls-remote", "--", sim.git_url("repo-00001"), env=git_env(TOKEN)).returncode == 0


def test_the_request_log_names_the_new_answers(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=5) as sim:
        sim.rename_repo("repo-00001", "fresh")
        client.get(f"{sim.base_url}/repos/acme/repo-00001")
        client.get(f"{sim.base_url}/api/v1/repos/acme/repo-00001")
        assert [(r.path, r.status, r.provider) for r in sim.requests()] == [
            ("/repos/acme/repo-00001", 301, "github"),
            ("/api/v1/repos/acme/repo-00001", 307, "gitea"),
        ]


def test_renaming_or_recreating_an_unknown_repo_is_a_key_error(tmp_path: Path) -> None:
    with ForgeSim(tmp_path, repos=3) as sim:
        with pytest.raises(KeyError):
            sim.rename_repo("nope", "other")
        with pytest.raises(KeyError):
            sim.recreate_repo("nope")
        with pytest.raises(ValueError):
            sim.rename_repo("repo-00001", "repo-00002")
        with pytest.raises(ValueError):
            sim.rename_repo("repo-00001", "../x")


def test_links_of_every_flavour_stay_parseable_after_a_rename(tmp_path: Path, client: httpx.Client) -> None:
    """The renamed repo's JSON is rebuilt (no stale cached object under the old name)."""
    with ForgeSim(tmp_path, repos=5) as sim:
        client.get(f"{sim.base_url}/orgs/acme/repos")
        sim.rename_repo("repo-00002", "fresh")
        body = client.get(f"{sim.base_url}/orgs/acme/repos").json()
        assert {i["name"] for i in body} >= {"fresh"} and all(i["clone_url"].endswith(f"/{i['name']}.git") for i in body)
        assert json.dumps(body).count("repo-00002") == 0
        assert LINK.findall(client.get(first_url(sim, "gitlab", per_page=2)).headers["link"])
