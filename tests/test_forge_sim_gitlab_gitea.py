"""GitLab v4 and Gitea v1 flavours of the embedded forge, quirks included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from gz_tui.forge_sim import ForgeSim, Scenario
from tests.test_forge_sim import LINK, git, link_url, rels, walk

TOKEN = "glpat-secret"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[ForgeSim]:
    with ForgeSim(tmp_path / "forge", repos=200) as forge:
        yield forge


# -- GitLab --


def test_group_tree_is_three_levels_deep_and_addressable_by_path_or_id(sim: ForgeSim, client: httpx.Client) -> None:
    api = f"{sim.base_url}/api/v4"
    top = client.get(f"{api}/groups/acme").json()
    assert top["full_path"] == "acme" and top["parent_id"] is None
    deep = client.get(f"{api}/groups/{quote('acme/platform/core/libs', safe='')}").json()
    assert deep["full_path"] == "acme/platform/core/libs" and deep["path"] == "libs"
    assert client.get(f"{api}/groups/{deep['id']}").json() == deep
    descendants = client.get(f"{api}/groups/acme/descendant_groups").json()
    assert {g["full_path"] for g in descendants} == {
        "acme/platform",
        "acme/platform/core",
        "acme/platform/core/libs",
        "acme/tools",
    }
    depths = {p.count("/") for p in sim.repo_names("gitlab")}
    assert depths == {0, 1, 2, 3}


def test_include_subgroups_walk_returns_every_project_once(sim: ForgeSim, client: httpx.Client) -> None:
    url = f"{sim.base_url}/api/v4/groups/acme/projects?include_subgroups=true&with_shared=false&per_page=30"
    items, pages = walk(client, url)
    paths = [p["path_with_namespace"] for p in items]
    assert len(paths) == len(set(paths)) == 200
    assert set(paths) == {f"acme/{p}" for p in sim.repo_names("gitlab")}
    first, middle, last = pages[0].headers, pages[1].headers, pages[-1].headers
    assert (first["x-page"], first["x-per-page"], first["x-next-page"], first["x-prev-page"]) == ("1", "30", "2", "")
    assert (first["x-total"], first["x-total-pages"]) == ("200", "7")
    assert rels(first["link"]) == ["next", "first", "last"]
    assert rels(middle["link"]) == ["prev", "next", "first", "last"]
    assert (last["x-page"], last["x-next-page"], last["x-prev-page"]) == ("7", "", "6")
    assert rels(last["link"]) == ["prev", "first", "last"]
    assert link_url(first["link"], "next") == (
        f"{sim.base_url}/api/v4/groups/acme/projects?include_subgroups=true&page=2&per_page=30&with_shared=false"
    )
    project = items[0]
    assert project["http_url_to_repo"] == f"{sim.base_url}/{project['path_with_namespace']}.git"
    assert project["ssh_url_to_repo"] == f"git@127.0.0.1:{project['path_with_namespace']}.git"
    assert project["namespace"]["full_path"] == project["path_with_namespace"].rsplit("/", 1)[0]
    for key in (
        "id",
        "name",
        "path",
        "name_with_namespace",
        "web_url",
        "default_branch",
        "empty_repo",
        "archived",
        "visibility",
        "last_activity_at",
        "created_at",
    ):
        assert key in project
    forks = [p for p in items if "forked_from_project" in p]
    assert forks and len(forks) < len(items)


def test_defaults_only_direct_children_and_shared_projects_included(sim: ForgeSim, client: httpx.Client) -> None:
    api = f"{sim.base_url}/api/v4/groups"
    direct, _ = walk(client, f"{api}/acme/projects?per_page=100")
    namespaces = {p["namespace"]["full_path"] for p in direct}
    assert namespaces == {"acme", "partners"}
    shared = [p for p in direct if p["namespace"]["full_path"] == "partners"]
    assert len(shared) == 2
    assert len(direct) - 2 == sum(1 for p in sim.repo_names("gitlab") if "/" not in p)
    core, _ = walk(client, f"{api}/{quote('acme/platform/core', safe='')}/projects?per_page=100&with_shared=true")
    assert {p["namespace"]["full_path"] for p in core} == {"acme/platform/core"}
    clone = shared[0]["http_url_to_repo"]
    git("ls-remote", "--", clone)


def test_archived_filter_means_only_or_exclude(sim: ForgeSim, client: httpx.Client) -> None:
    url = f"{sim.base_url}/api/v4/groups/acme/projects?include_subgroups=true&with_shared=false&per_page=100"
    everything, _ = walk(client, url)
    only, _ = walk(client, url + "&archived=true")
    without, _ = walk(client, url + "&archived=false")
    assert only and all(p["archived"] for p in only)
    assert not any(p["archived"] for p in without)
    assert len(only) + len(without) == len(everything) == 200


def test_ordering_parameters(sim: ForgeSim, client: httpx.Client) -> None:
    url = f"{sim.base_url}/api/v4/groups/acme/projects?include_subgroups=true&with_shared=false&per_page=100"
    default = client.get(url).json()
    assert [p["created_at"] for p in default] == sorted((p["created_at"] for p in default), reverse=True)
    ascending = client.get(url + "&order_by=id&sort=asc").json()
    assert [p["id"] for p in ascending] == sorted(p["id"] for p in ascending)


def test_more_than_10000_records_hides_totals_and_last(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=10_050) as big:
        url = f"{big.base_url}/api/v4/groups/acme/projects?include_subgroups=true&with_shared=false&per_page=100"
        first = client.get(url)
        assert len(first.json()) == 100
        assert "x-total" not in first.headers and "x-total-pages" not in first.headers
        assert rels(first.headers["link"]) == ["next", "first"]
        assert first.headers["x-next-page"] == "2"
        last = client.get(url + "&page=101")
        assert len(last.json()) == 50
        assert last.headers["x-next-page"] == "" and last.headers["x-prev-page"] == "100"
        assert rels(last.headers["link"]) == ["prev", "first"]
        subgroup = client.get(f"{big.base_url}/api/v4/groups/{quote('acme/tools', safe='')}/projects?per_page=100")
        assert subgroup.headers["x-total"] == "2010" and "last" in rels(subgroup.headers["link"])


def test_gitlab_host_is_used_in_link_urls(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=50, scenario=Scenario(gitlab_host="gitlab.example.invalid:8443")) as sim:
        response = client.get(f"{sim.base_url}/api/v4/groups/acme/projects?include_subgroups=true")
        assert all(
            url.startswith("http://gitlab.example.invalid:8443/api/v4/groups/acme/projects?")
            for url, _ in LINK.findall(response.headers["link"])
        )
        gitea = client.get(f"{sim.base_url}/api/v1/orgs/acme/repos?limit=10")
        assert (link_url(gitea.headers["link"], "next") or "").startswith("http://gitlab.example.invalid:8443/api/v1/orgs/acme/repos?")


def test_gitlab_auth_and_not_found(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=5, token=TOKEN) as sim:
        url = f"{sim.base_url}/api/v4/groups/acme/projects"
        for headers in ({}, {"PRIVATE-TOKEN": "nope"}, {"Authorization": f"token {TOKEN}"}):
            denied = client.get(url, headers=headers)
            assert denied.status_code == 401 and denied.json() == {"message": "401 Unauthorized"}
        assert client.get(url, headers={"PRIVATE-TOKEN": TOKEN}).status_code == 200
        ok = client.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        for header in (
            "ratelimit-limit",
            "ratelimit-observed",
            "ratelimit-remaining",
            "ratelimit-reset",
            "ratelimit-resettime",
        ):
            assert header in ok.headers
        missing = client.get(f"{sim.base_url}/api/v4/groups/{quote('acme/nope', safe='')}/projects", headers={"PRIVATE-TOKEN": TOKEN})
        assert missing.status_code == 404 and missing.json() == {"message": "404 Group Not Found"}


def test_clone_from_a_gitlab_listing_url(sim: ForgeSim, client: httpx.Client, tmp_path: Path) -> None:
    projects = client.get(f"{sim.base_url}/api/v4/groups/{quote('acme/platform/core/libs', safe='')}/projects").json()
    project = projects[0]
    git("clone", "--quiet", "--", project["http_url_to_repo"], str(tmp_path / "c"))
    head = git("-C", str(tmp_path / "c"), "rev-parse", "HEAD").stdout.strip()
    assert head == sim.head_of(project["path_with_namespace"].removeprefix("acme/"))


# -- Gitea --


def test_gitea_limit_is_clamped_to_50_and_links_are_comma_joined(sim: ForgeSim, client: httpx.Client) -> None:
    first = client.get(f"{sim.base_url}/api/v1/orgs/acme/repos?limit=100")
    assert len(first.json()) == 50
    assert first.headers["x-total-count"] == "200"
    link = first.headers["link"]
    assert ", " not in link and '>; rel="next",<' in link
    assert rels(link) == ["next", "last"]
    assert link_url(link, "next") == f"{sim.base_url}/api/v1/orgs/acme/repos?limit=100&page=2"
    middle = client.get(link_url(link, "next") or "")
    assert rels(middle.headers["link"]) == ["next", "last", "first", "prev"]
    items, pages = walk(client, f"{sim.base_url}/api/v1/orgs/acme/repos?limit=100")
    assert len(pages) == 4 and [i["name"] for i in items] == sim.repo_names()
    assert rels(pages[-1].headers["link"]) == ["first", "prev"]
    default = client.get(f"{sim.base_url}/api/v1/orgs/acme/repos").json()
    assert len(default) == 30
    repo = default[0]
    assert repo["clone_url"] == f"{sim.base_url}/acme/{repo['name']}.git"
    assert repo["owner"]["login"] == "acme" and repo["full_name"] == f"acme/{repo['name']}"
    for key in (
        "id",
        "ssh_url",
        "html_url",
        "archived",
        "fork",
        "empty",
        "private",
        "default_branch",
        "updated_at",
        "size",
    ):
        assert key in repo


def test_gitea_repo_objects_have_no_pushed_at_and_updated_at_moves_on_push(sim: ForgeSim, client: httpx.Client) -> None:
    def listed() -> dict[str, dict[str, object]]:
        items, _ = walk(client, f"{sim.base_url}/api/v1/orgs/acme/repos?limit=50")
        return {str(item["name"]): item for item in items}

    before = listed()
    assert all("pushed_at" not in item for item in before.values())  # as a real Gitea: the key is absent, not null
    assert all(isinstance(item["updated_at"], str) for item in before.values())
    sim.push_commit("repo-00007")
    after = listed()
    assert "pushed_at" not in after["repo-00007"]
    assert str(after["repo-00007"]["updated_at"]) > str(before["repo-00007"]["updated_at"])
    assert {n: i["updated_at"] for n, i in after.items() if n != "repo-00007"} == {
        n: i["updated_at"] for n, i in before.items() if n != "repo-00007"
    }


def test_gitea_users_endpoint_auth_and_errors(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, org="alice", repos=5, token=TOKEN, owner_kind="user") as sim:
        api = f"{sim.base_url}/api/v1"
        denied = client.get(f"{api}/users/alice/repos")
        assert denied.status_code == 401 and denied.json()["message"] == "token is required"
        auth = {"Authorization": f"token {TOKEN}"}
        assert len(client.get(f"{api}/users/alice/repos", headers=auth).json()) == 5
        assert client.get(f"{api}/users/alice/repos", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        missing = client.get(f"{api}/orgs/alice", headers=auth)
        assert missing.status_code == 404
        assert missing.json()["message"] == "GetOrgByName" and missing.json()["url"].endswith("/api/swagger")
