"""``--all``: every repository the token can see on an instance, each at ``DEST/OWNER/PATH``; and GitLab group
listings paged by ``id_after`` instead of deep offsets.

GitLab lists the instance by keyset pagination of ``/projects`` (its offset pages are refused past 50,000: the sim
refuses past a threshold set small), Gitea and Forgejo by ``/repos/search``, Bitbucket Data Center by ``/repos``,
GitHub Enterprise by ``/repositories?since=``. A killed run resumes from the last id it saw.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from gz_tui.config import Settings, resolve_targets
from gz_tui.config.settings import validate
from gz_tui.forge_sim import Scenario
from gz_tui.kinds import ProviderName
from gz_tui.pipeline.runner import Pipeline
from gz_tui.status import show_status
from gz_tui.tui.widgets.targets import target_row
from tests.conftest import run_cli
from tests.helpers import json_sink, repo_dirs, run_cancelled_when, run_pipeline

SHARED = {"partners/shared-lib", "partners/shared-tool"}
"""The sim's projects of another namespace: on the instance, beside the org's."""
LISTING = ("/projects", "/repos/search", "/rest/api/1.0/repos", "/repositories")


def instance_settings(sim: Any, dest: Path, provider: str, **changes: Any) -> Settings:
    values: dict[str, Any] = dict(
        owner="", instance=True, provider=provider, base_url=sim.api_url(provider), dest=dest, workers=4, buffer=50, headless=True
    )
    values.update(changes)
    return Settings(**values)


def expected_paths(sim: Any, provider: str) -> set[str]:
    """Where each repo of the instance lands below DEST: its owner, then its path."""
    metas = [m for m in sim._catalog.repos() if not m.hostile and m.owner is None]
    if provider == "gitlab":
        return {f"acme/{m.gitlab_rel_path}" for m in metas} | SHARED
    if provider == "gitea":
        return {f"acme/{m.name}" for m in metas} | SHARED
    if provider == "bitbucket-server":
        return {f"ACME/{m.name}" for m in metas}
    return {f"acme/{m.name}" for m in metas if not m.private} | SHARED  # GHES: the repos every user may see


def listing_requests(sim: Any) -> list[str]:
    return [r.path for r in sim.api_requests() if r.path.split("?")[0].endswith(LISTING)]


SMALL_PAGES = Scenario(gitea_max_response_items=20, bitbucket_server_page_max=20)


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["gitlab", "gitea", "bitbucket-server", "github"])
def test_all_clones_every_repository_of_the_instance_at_owner_and_path(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim = forge_factory(org="acme", repos=45, scenario=SMALL_PAGES)
    dest = tmp_path / "instance"
    settings = instance_settings(sim, dest, provider)
    assert settings.name == f"127.0.0.1:{sim.port}", "the target is named after its instance"
    code, pipeline, events = run_pipeline(settings)
    failures = [(e["repo"], e["message"]) for e in events if e["event"] == "repo_failed"]
    assert code == 0, failures[:3]
    assert repo_dirs(dest) == expected_paths(sim, provider)
    row = target_row(pipeline.stats.snapshot().targets[0], 0.0)
    assert (row.name, row.label) == (settings.name, f"{provider}/*"), "the dashboard's row: the instance, every owner"
    summary = events[-1]
    assert summary["event"] == "summary" and summary["target"] == settings.name
    assert summary["cloned"] == len(expected_paths(sim, provider))
    out = io.StringIO()
    assert show_status(dest, None, out=out, err=io.StringIO()) == 0
    assert "every repository the token can see (--all)" in out.getvalue().splitlines()[0]

    # A second run re-lists and fetches; nothing lands anywhere new.
    code, _, events = run_pipeline(settings)
    assert code == 0 and events[-1]["cloned"] == 0 and repo_dirs(dest) == expected_paths(sim, provider)


def test_all_on_gitlab_goes_past_the_offset_limit_by_keyset_pagination(forge_factory: Any, tmp_path: Path) -> None:
    """The sim refuses offset pages of ``/projects`` past 200 (GitLab: 50,000) as GitLab does; keyset goes on."""
    sim = forge_factory(org="acme", repos=448, scenario=Scenario(gitlab_offset_limit=200))
    refused = httpx.get(f"{sim.base_url}/api/v4/projects", params={"order_by": "id", "sort": "asc", "per_page": 100, "page": 3})
    assert refused.status_code == 405 and "maximum allowed offset of 200" in refused.json()["message"]
    sim.clear_log()

    code, _, events = run_pipeline(instance_settings(sim, tmp_path / "instance", "gitlab", dry_run=True))
    assert code == 0
    assert events[-1]["listed"] == 450 and events[-1]["would_clone"] == 450
    asked = [path for path in listing_requests(sim) if "pagination=keyset" in path]
    assert len(asked) == 5 and len(listing_requests(sim)) == 5, "one keyset request a page, none refused"
    assert all("page=" not in path.replace("per_page=", "") for path in asked)
    assert "id_after=" in asked[-1]


RESUMED = {"gitlab": 230, "gitea": 65, "bitbucket-server": 65, "github": 260}
"""Three pages or more on each (GitLab and GitHub 100 a page; Gitea and Data Center 20 a page here)."""


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["gitlab", "gitea", "bitbucket-server", "github"])
def test_all_killed_mid_listing_resumes_from_the_last_id(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim = forge_factory(org="acme", repos=RESUMED[provider], scenario=SMALL_PAGES)
    dest = tmp_path / "instance"
    settings = instance_settings(sim, dest, provider, buffer=20)

    code, events = run_cancelled_when(settings, lambda events: events[-1]["event"] == "page")
    assert code == 130
    before = len(listing_requests(sim))

    events = []
    code = anyio.run(Pipeline(settings, events=json_sink(events.append)).run)
    failures = [(e["repo"], e["message"]) for e in events if e["event"] == "repo_failed"]
    assert code == 0, failures[:3]
    assert events[0]["event"] == "resume" and events[0]["listing_done"] is False
    resumed = listing_requests(sim)[before:]
    assert resumed, "the resumed run lists on"
    first_cursor = resumed[0]
    assert any(word in first_cursor for word in ("id_after=", "since=", "page=2", "start=")), first_cursor
    assert "page=1&" not in first_cursor and not first_cursor.endswith("page=1"), "page 1 is not asked again"
    assert repo_dirs(dest) == expected_paths(sim, provider)
    served = Counter(r.path for r in sim.requests() if r.kind == "git" and "info/refs" in r.path)
    assert len(served) == len(expected_paths(sim, provider)) and set(served.values()) == {1}, "a repo was cloned twice"


def test_a_gitlab_group_is_paged_by_id_after_and_misses_nothing_deleted_mid_listing(forge_factory: Any, tmp_path: Path) -> None:
    """A project deleted once page 1 is served shifts every later offset by one: page 2 by offset then starts one
    project late and that project is never listed. Paged by ``id_after``, page 2 starts after page 1's last id."""
    sim = forge_factory(org="acme", repos=250)
    group = f"{sim.base_url}/api/v4/groups/acme/projects"
    query = {"include_subgroups": "true", "with_shared": "false", "order_by": "id", "sort": "asc", "per_page": "100"}
    sim.remove_repo_after_page(1)  # the first project of the listing goes once page 1 is out
    first = httpx.get(group, params={**query, "page": "1"}).json()
    second = httpx.get(group, params={**query, "page": "2"}).json()
    listed = {p["id"] for p in first + second}
    shifted = sorted(p["id"] for p in first)[-1] + 1
    assert shifted not in listed and second[0]["id"] == shifted + 1, "by offset, the first project of page 2 is missed"

    sim2 = forge_factory(org="acme", repos=250)
    sim2.remove_repo_after_page(1)
    code, _, events = run_pipeline(
        Settings(
            owner="acme", provider=ProviderName.GITLAB, base_url=sim2.api_url("gitlab"), dest=tmp_path / "acme", headless=True, dry_run=True
        )
    )
    assert code == 0
    planned = {e["repo"].removeprefix("acme/") for e in events if e["event"] == "repo_planned"}
    remaining = set(sim2.repo_names("gitlab"))
    assert len(remaining) == 249 and remaining <= planned, f"missed: {sorted(remaining - planned)[:3]}"
    pages = [path for path in listing_requests(sim2) if "/groups/" in path]
    assert len(pages) == 3 and all("id_after=" in path and "page=" not in path.replace("per_page=", "") for path in pages[1:])


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"owner": "acme"}, "takes no owner"),
        ({"provider": "bitbucket"}, "bitbucket has no such listing"),
        ({"provider": "gitlab", "base_url": ""}, "is for your own instance, not gitlab.com"),
        ({"provider": "github", "base_url": ""}, "is for your own instance, not api.github.com"),
        ({"provider": "gitea", "base_url": "https://codeberg.org/"}, "not codeberg.org"),
        ({"subgroup_include": "x"}, "--subgroup-include selects within an owner"),
    ],
)
def test_all_is_refused_where_it_cannot_mean_one_instance(changes: dict[str, Any], said: str) -> None:
    values: dict[str, Any] = {"owner": "", "instance": True, "provider": "gitlab", "base_url": "https://git.example.com"}
    problem = validate(Settings(**(values | changes)))
    assert problem is not None and said in problem


def test_all_on_the_command_line_needs_no_owner_and_lands_in_a_folder_named_after_the_instance(tmp_path: Path) -> None:
    from gz_tui.config import resolve_owners

    [resolved] = resolve_owners({"instance": True, "provider": "gitlab", "base_url": "https://git.example.com:8443", "token": "t"}, [])
    settings = resolved.settings
    assert validate(settings) is None
    assert settings.owner == "" and settings.name == "git.example.com:8443"
    assert settings.dest == Path("git.example.com:8443")


def test_a_configured_target_of_a_whole_instance_has_no_owner(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[targets.backup]\nprovider = "gitlab"\nbase_url = "https://git.example.com"\ninstance = true\ndest = "/backup/git"\n',
        encoding="utf-8",
    )
    [resolved] = resolve_targets({}, environ={"GITLAB_TOKEN": "t"}, config_file=config)
    settings = resolved.settings
    assert validate(settings) is None
    assert settings.owner == "" and settings.instance and settings.name == "backup" and settings.dest == Path("/backup/git")


def test_all_from_the_command_line_lists_the_instance_and_says_so(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=12)
    args = ["--all", "--provider", "gitea", "--base-url", sim.api_url("gitea"), "--token", "", "--dry-run", "--json"]
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["event"] == "summary" and events[-1]["listed"] == 14 and events[-1]["target"] == f"127.0.0.1:{sim.port}"
    assert events[-1]["server"] == "Gitea 1.23.0"
    refused = run_cli("acme", "--all", "--provider", "gitea", "--base-url", sim.api_url("gitea"), "--token", "", cwd=tmp_path)
    assert refused.returncode == 2 and "takes no owner" in refused.stderr and "Traceback" not in refused.stderr


def test_a_group_page_without_ids_falls_back_to_the_servers_offset_link() -> None:
    """Paged by id only while there is an id to go on after: a page whose entries carry none (the parser drops them)
    must not end the listing early, or a complete-looking listing would leave repos out (and ``--prune`` act on it)."""
    from gz_tui.forges.gitlab import GitLab

    provider = GitLab("https://git.example.com", "acme")
    url = provider.first_urls()[0]
    request = httpx.Request("GET", url)
    by_id = provider.next_url(url, httpx.Response(200, json=[{"id": 5}, {"id": 9}], headers={"x-next-page": "2"}, request=request))
    assert by_id is not None and by_id.endswith("&id_after=9") and "page=2" not in by_id
    no_ids = provider.next_url(url, httpx.Response(200, json=[{"name": "x"}], headers={"x-next-page": "2"}, request=request))
    assert no_ids is not None and no_ids.endswith("&page=2")
    assert provider.next_url(url, httpx.Response(200, json=[{"id": 5}], headers={"x-next-page": ""}, request=request)) is None
