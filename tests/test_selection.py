"""Selection beyond regexes (issue 18): topics, language, a list of names, affiliation, GitLab subgroups, ssh aliases.

Every filter runs end to end against the embedded forge (whose repos carry deterministic topics and languages) and
real git, and must clone exactly the repos it selects.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from gz_tui.forges.records import RemoteRepo
from gz_tui.pipeline.paths import clone_url_for
from gz_tui.status import status_command
from tests.conftest import run_cli
from tests.helpers import repo_dirs, run_pipeline, settings_for, token_variable

PROVIDERS = ["github", "gitlab", "gitea"]
TOKEN = "selection-token-0123456789"


def names(sim: Any, provider: str) -> list[str]:
    return list(sim.repo_names(provider))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_topics_select_repos_carrying_any_of_them(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim = forge_factory(org="acme", repos=16)
    dest = tmp_path / "dest"
    code, _, events = run_pipeline(settings_for(sim, dest, provider=provider, topics=("INFRA", "web")))
    expected = {n for n in names(sim, provider) if {"infra", "web"} & set(sim.topics_of(n))}
    assert code == 0
    assert expected and expected != set(names(sim, provider))
    assert repo_dirs(dest) == expected
    skipped = [e for e in events if e["event"] == "repo_skipped"]
    assert len(skipped) == len(names(sim, provider)) - len(expected)
    assert {e["reason"] for e in skipped} == {"no topic named by --topic"}


def test_one_gitlab_topic_is_asked_of_the_server(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=16)
    dest = tmp_path / "dest"
    code, _, events = run_pipeline(settings_for(sim, dest, provider="gitlab", topics=("infra",)))
    assert code == 0
    assert repo_dirs(dest) == {n for n in names(sim, "gitlab") if "infra" in sim.topics_of(n)}
    listing = [r.path for r in sim.api_requests() if "/projects?" in r.path]
    assert listing and all("topic=infra" in path for path in listing)
    assert not [e for e in events if e["event"] == "repo_skipped"]  # the server left the others out


@pytest.mark.parametrize("provider", PROVIDERS)
def test_language_selects_repos_in_it(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim = forge_factory(org="acme", repos=16)
    dest = tmp_path / "dest"
    code, _, _ = run_pipeline(settings_for(sim, dest, provider=provider, language="go"))
    expected = {n for n in names(sim, provider) if sim.language_of(n) == "Go"}
    assert code == 0 and expected
    assert repo_dirs(dest) == expected
    lookups = [r.path for r in sim.api_requests() if r.path.endswith("/languages")]
    # GitLab's listing has no language: one request per candidate; GitHub and Gitea need none.
    assert len(lookups) == (len(names(sim, provider)) if provider == "gitlab" else 0)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_repos_file_selects_exactly_its_names_and_reports_the_missing_ones(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim = forge_factory(org="acme", repos=12)
    every = names(sim, provider)
    full = f"acme/{every[3]}"  # a full name works as well as the name below the owner
    listed = tmp_path / "repos.txt"
    listed.write_text(f"# wanted\n{every[0]}\n\n{full}\n{every[5].upper()}\nno-such-repo\nacme/gone-too  # old\n")
    dest = tmp_path / "dest"
    code, pipeline, events = run_pipeline(settings_for(sim, dest, provider=provider, repos_file=listed))
    assert code == 1  # the listing completed and two names were not in it
    assert repo_dirs(dest) == {every[0], every[3], every[5]}
    notices = [e["message"] for e in events if e["event"] == "notice" and "--repos-file" in e["message"]]
    assert len(notices) == 1 and "2 names" in notices[0] and "no-such-repo, acme/gone-too" in notices[0]
    assert events[-1]["event"] == "summary" and events[-1]["exit_code"] == 1 and events[-1]["failed"] == 0

    # Every name listed: exit 0, nothing reported.
    listed.write_text(f"{every[0]}\n")
    code, _, events = run_pipeline(settings_for(sim, tmp_path / "second", provider=provider, repos_file=listed))
    assert code == 0 and not [e for e in events if e["event"] == "notice" and "--repos-file" in e["message"]]


def test_repos_file_names_are_not_reported_when_the_listing_did_not_complete(forge_factory: Any, tmp_path: Path) -> None:
    from gz_tui.forge_sim import Scenario

    sim = forge_factory(org="acme", repos=5, scenario=Scenario(error_status=500))
    listed = tmp_path / "repos.txt"
    listed.write_text("no-such-repo\n")
    code, _, events = run_pipeline(settings_for(sim, tmp_path / "dest", repos_file=listed), policy=_fast_policy())
    assert code != 0
    assert not [e for e in events if e["event"] == "notice" and "--repos-file" in e["message"]]


def _fast_policy() -> Any:
    from gz_tui.forges.http import RetryPolicy

    return RetryPolicy(transient_attempts=1, backoff_base=0.01)


def test_a_repos_file_that_cannot_be_read_is_one_line_and_exit_2(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=3)
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(tmp_path / "d"), "--repos-file", str(tmp_path / "missing.txt"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--repos-file" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "changes, keep",
    [
        ({"subgroup_include": "^platform"}, lambda rel: rel.startswith("platform/")),
        ({"subgroup_exclude": "core"}, lambda rel: "core/" not in rel),
        ({"subgroup_include": "^$"}, lambda rel: "/" not in rel),  # the top group's own projects
    ],
    ids=["include-platform", "exclude-core", "top-group-only"],
)
def test_gitlab_subgroup_filters(forge_factory: Any, tmp_path: Path, changes: dict[str, str], keep: Any) -> None:
    sim = forge_factory(org="acme", repos=15)
    dest = tmp_path / "dest"
    code, _, _ = run_pipeline(settings_for(sim, dest, provider="gitlab", **changes))
    expected = {n for n in names(sim, "gitlab") if keep(n)}
    assert code == 0 and expected and expected != set(names(sim, "gitlab"))
    assert repo_dirs(dest) == expected


def test_subgroup_filters_are_refused_outside_gitlab(tmp_path: Path) -> None:
    result = run_cli("acme", "--dest", str(tmp_path / "d"), "--subgroup-include", "x", "--token", "t")
    assert result.returncode == 2 and "GitLab" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "affiliation, own, shared",
    [("owner", True, False), ("member", False, True), ("all", True, True)],
)
def test_affiliation_of_a_github_user_listed_with_their_own_token(
    forge_factory: Any, tmp_path: Path, affiliation: str, own: bool, shared: bool
) -> None:
    sim = forge_factory(org="octocat", repos=6, owner_kind="user", token=TOKEN)
    dest = tmp_path / "dest"
    code, _, _ = run_pipeline(settings_for(sim, dest, token=TOKEN, affiliation=affiliation))
    expected = (set(sim.repo_names()) if own else set()) | ({"partners/shared-lib", "partners/shared-tool"} if shared else set())
    assert code == 0
    assert repo_dirs(dest) == expected
    listing = [r.path for r in sim.api_requests() if r.path.startswith("/user/repos")]
    assert listing


def test_affiliation_on_an_organisation_is_said_to_be_ignored(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=4, token=TOKEN)
    code, _, events = run_pipeline(settings_for(sim, tmp_path / "dest", token=TOKEN, affiliation="member"))
    assert code == 0 and repo_dirs(tmp_path / "dest") == set(sim.repo_names())
    assert any(e["event"] == "notice" and "--affiliation ignored" in e["message"] for e in events)


def test_status_says_what_a_filtered_run_covered(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=8)
    dest = tmp_path / "dest"
    code, _, _ = run_pipeline(settings_for(sim, dest, provider="gitlab", topics=("infra", "web"), language="Go", subgroup_exclude="core"))
    assert code == 0
    out, err = io.StringIO(), io.StringIO()
    assert status_command([str(dest)], out=out, err=err) == 0
    assert "covered only: --topic infra,web · --language Go · --subgroup-exclude core" in out.getvalue()

    run_pipeline(settings_for(sim, tmp_path / "plain"))
    out = io.StringIO()
    status_command([str(tmp_path / "plain")], out=out, err=err)
    assert "covered only" not in out.getvalue()


def test_topic_filtered_reruns_list_in_full_instead_of_trusting_304s(forge_factory: Any, tmp_path: Path) -> None:
    """The state keeps no topics: a second run must still see them (no conditional requests), and select the same."""
    sim = forge_factory(org="acme", repos=12)
    dest = tmp_path / "dest"
    settings = settings_for(sim, dest, topics=("infra",))
    assert run_pipeline(settings)[0] == 0
    first = repo_dirs(dest)
    sim.clear_log()
    code, _, events = run_pipeline(settings)
    assert code == 0 and repo_dirs(dest) == first
    assert not [r for r in sim.api_requests() if r.conditional]
    assert {e["repo"].split("/")[-1] for e in events if e["event"] == "repo_skipped"} == set(sim.repo_names()) - first


# --------------------------------------------------------------------------- ssh host aliases


@pytest.mark.parametrize(
    "ssh_url, expected",
    [
        ("git@github.com:acme/x.git", "git@github-work:acme/x.git"),
        ("ssh://git@github.com/acme/x.git", "ssh://git@github-work/acme/x.git"),
        ("ssh://git@github.com:2222/acme/x.git", "ssh://git@github-work:2222/acme/x.git"),
    ],
)
def test_ssh_hostname_rewrites_only_the_host(ssh_url: str, expected: str) -> None:
    repo = RemoteRepo(key="1", full_name="acme/x", rel_path="x", clone_url="https://github.com/acme/x.git", ssh_url=ssh_url)
    url = clone_url_for(repo, api_base="https://api.github.com", protocol="ssh", allow_http=False, ssh_hostname="github-work")
    assert url == expected
    # Still checked against the forge's host first: an alias never launders another host's URL.
    other = RemoteRepo(key="2", full_name="acme/y", rel_path="y", clone_url="", ssh_url="git@evil.example:acme/y.git")
    with pytest.raises(ValueError):
        clone_url_for(other, api_base="https://api.github.com", protocol="ssh", allow_http=False, ssh_hostname="github-work")


def test_ssh_hostname_reaches_ssh_and_the_clone_works(forge_factory: Any, tmp_path: Path) -> None:
    """git runs ssh against the alias (a stand-in ssh that serves the forge's bare repos, recording its arguments)."""
    sim = forge_factory(org="acme", repos=3)
    for name in sim.repo_names():
        sim.head_of(name)  # the bare repos exist on disk
    calls = tmp_path / "ssh-calls"
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text(
        f"#!/bin/sh\necho \"$@\" >> '{calls}'\nfor last; do :; done\ncd '{sim.root}/repos' 2>/dev/null || cd '{sim.root}'\neval \"$last\"\n"
    )
    fake_ssh.chmod(0o755)
    dest = tmp_path / "dest"
    environ = {**os.environ, "GIT_SSH_COMMAND": str(fake_ssh)}
    code, _, events = run_pipeline(settings_for(sim, dest, protocol="ssh", ssh_hostname="forge-alias"), environ=environ)
    recorded = [line for line in calls.read_text().splitlines() if "git-upload-pack" in line]  # not git's -G probe
    assert len(recorded) == 3 and all("forge-alias" in line and "127.0.0.1" not in line for line in recorded)
    assert code == 0, [e for e in events if e["event"] == "repo_failed"]
    assert repo_dirs(dest) == set(sim.repo_names())


def test_repos_left_out_by_topic_or_language_are_journaled_with_their_page(tmp_path: Path) -> None:
    """The state keeps no topics or languages: a repo they leave out is recorded as skipped in the page's own
    transaction, so a run killed right after journaling the page never queues it on resume."""
    from gz_tui.forges.records import Page
    from gz_tui.pipeline.state import StateStore

    base = "https://api.github.com"
    repos = [
        RemoteRepo(key=str(n), full_name=f"acme/r{n}", rel_path=f"r{n}", clone_url=f"{base}/acme/r{n}.git", owner="acme") for n in range(4)
    ]
    store = StateStore(tmp_path / "state.sqlite3")
    try:
        run_id = store.runs.begin(forge="github", base_url=base, owner="acme", dest=str(tmp_path), options={}, dry_run=False)
        page = Page(url=f"{base}/orgs/acme/repos?page=1", repos=repos, next_url=f"{base}/orgs/acme/repos?page=2")
        fresh = store.pages.record(run_id, page, repos, {"1": "no topic named by --topic", "3": "another language than --language"})
        assert [item.repo.key for item in fresh] == ["0", "1", "2", "3"]  # the lister reports the left-out ones
        pending = [item.repo.key for batch in store.repos.pending(run_id) for item in batch]
        assert pending == ["0", "2"]  # what a resumed run would queue
    finally:
        store.close()


# --------------------------------------------------------------------------- fields a listing lacks (issue 25)


@pytest.mark.parametrize(("version", "asked"), [((1, 22), "/topics"), ((1, 16), "/languages")])
def test_old_gitea_filters_by_asking_each_candidate_what_its_listing_lacks(
    forge_factory: Any, tmp_path: Path, version: tuple[int, int], asked: str
) -> None:
    """Gitea before 1.23 lists no topics, before 1.17 no language: each candidate's own endpoint is asked instead of
    selecting nothing."""
    from gz_tui.forge_sim import Scenario

    sim = forge_factory(org="acme", repos=16, scenario=Scenario(gitea_version=version))
    dest = tmp_path / "dest"
    every = names(sim, "gitea")
    if asked == "/topics":
        changes: dict[str, Any] = {"topics": ("infra", "web")}
        expected = {n for n in every if {"infra", "web"} & set(sim.topics_of(n))}
    else:
        changes = {"language": "go"}
        expected = {n for n in every if sim.language_of(n) == "Go"}
    code, _, events = run_pipeline(settings_for(sim, dest, provider="gitea", **changes))
    assert code == 0 and expected and expected != set(every)
    assert repo_dirs(dest) == expected
    lookups = [r.path for r in sim.api_requests() if r.path.endswith(asked)]
    assert sorted(lookups) == sorted(f"/api/v1/repos/acme/{n}{asked}" for n in every)  # one request per candidate
    assert events[-1]["event"] == "summary" and "unmatched" not in events[-1]


@pytest.mark.parametrize(
    ("provider", "flag"), [("bitbucket", "--topic"), ("bitbucket-server", "--topic"), ("bitbucket-server", "--language")]
)
def test_a_filter_the_server_cannot_answer_stops_with_one_line_and_exit_2(
    forge_factory: Any, tmp_path: Path, provider: str, flag: str
) -> None:
    sim = forge_factory(org="acme", repos=6)
    value = "infra" if flag == "--topic" else "Go"
    dest = tmp_path / "d"
    env = {token_variable(provider): "any-token-0123456789"}
    result = run_cli("acme", "--provider", provider, "--base-url", sim.base_url, "--dest", str(dest), flag, value, env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    field = "topics" if flag == "--topic" else "languages"
    assert len(lines) == 1 and f"{flag} cannot be used with this {provider} server" in lines[0] and f"no {field}" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not repo_dirs(dest) if dest.exists() else True


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_filter_that_matches_nothing_says_so_in_the_summary(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    sim = forge_factory(org="acme", repos=6)
    args = ["acme", "--provider", provider, "--base-url", sim.base_url, "--dest", str(tmp_path / "d"), "--token", ""]
    result = run_cli(*args, "--topic", "no-such-topic", "--include", "repo")
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("cloned 0 ") and "nothing matched --include repo · --topic no-such-topic" in summary
    dry = run_cli(*args, "--language", "Klingon", "--dry-run", "--json")
    assert json.loads(dry.stdout.splitlines()[-1])["unmatched"] == "--language Klingon"
    matched = run_cli(*args, "--language", "go", "--json")
    assert matched.returncode == 0 and "unmatched" not in json.loads(matched.stdout.splitlines()[-1])
