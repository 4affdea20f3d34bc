"""The embedded forge's change signals and selection fields behave as the real ones do (issue 25): whole-second
``pushed_at``/``updated_at``, GitLab's held-back ``last_activity_at``, the three shapes of a wiki nobody wrote, and
old Gitea listings without ``topics``/``language`` beside their per-repo endpoints.

Plain httpx and git against a running ``ForgeSim`` with an injected clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gz_tui.clock import FakeClock
from gz_tui.forge_sim import ForgeSim, Scenario
from tests.test_forge_sim import git

FLAVOURS = ("github", "gitlab", "gitea")
SIGNAL = {"github": "pushed_at", "gitlab": "last_activity_at", "gitea": "updated_at"}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


def signal_of(client: httpx.Client, sim: ForgeSim, flavour: str, name: str) -> str:
    """The change signal a listing (or GitLab's project lookup) gives one repo."""
    number = sim.repo_id(name)
    urls = {
        "github": f"{sim.base_url}/repositories/{number}",
        "gitlab": f"{sim.base_url}/api/v4/projects/{number}",
        "gitea": f"{sim.base_url}/api/v1/repositories/{number}",
    }
    return str(client.get(urls[flavour]).json()[SIGNAL[flavour]])


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_two_pushes_within_one_second_leave_the_change_signal_unchanged(tmp_path: Path, client: httpx.Client, flavour: str) -> None:
    clock = FakeClock(1_800_000_000.2)
    with ForgeSim(tmp_path, repos=5, clock=clock) as sim:
        first = sim.push_commit("repo-00002")
        signal = signal_of(client, sim, flavour, "repo-00002")
        assert signal.startswith("2027-01-15T08:00:00")
        clock.advance(0.7)  # still second ...000
        second = sim.push_commit("repo-00002")
        assert second != first and sim.head_of("repo-00002") == second
        assert signal_of(client, sim, flavour, "repo-00002") == signal
        clock.advance(0.2)  # second ...001
        sim.push_commit("repo-00002")
        assert signal_of(client, sim, flavour, "repo-00002") != signal


def test_the_listing_page_is_byte_identical_after_a_same_second_push(tmp_path: Path, client: httpx.Client) -> None:
    """Even a conditional request cannot tell: the ETag of the page stays the same."""
    clock = FakeClock(1_800_000_000.0)
    with ForgeSim(tmp_path, repos=5, clock=clock) as sim:
        sim.push_commit("repo-00003")
        page = client.get(f"{sim.base_url}/api/v1/orgs/acme/repos")
        clock.advance(0.5)
        sim.push_commit("repo-00003")
        again = client.get(f"{sim.base_url}/api/v1/orgs/acme/repos", headers={"If-None-Match": page.headers["etag"]})
        assert again.status_code == 304


def test_gitlab_holds_last_activity_at_back_within_its_window(tmp_path: Path, client: httpx.Client) -> None:
    clock = FakeClock(1_800_000_000.0)
    with ForgeSim(tmp_path, repos=5, clock=clock, scenario=Scenario(gitlab_activity_hold=3600)) as sim:
        sim.push_commit("repo-00004")
        recorded = signal_of(client, sim, "gitlab", "repo-00004")
        assert recorded == "2027-01-15T08:00:00.000Z"
        clock.advance(1800)
        sim.push_commit("repo-00004")
        assert signal_of(client, sim, "gitlab", "repo-00004") == recorded  # the push is invisible in the signal
        assert signal_of(client, sim, "github", "repo-00004") != "2027-01-15T08:00:00Z"  # the other flavours see it
        clock.advance(1799)
        sim.push_commit("repo-00004")
        assert signal_of(client, sim, "gitlab", "repo-00004") == recorded
        clock.advance(1)  # an hour after the recorded activity
        sim.push_commit("repo-00004")
        assert signal_of(client, sim, "gitlab", "repo-00004") == "2027-01-15T09:00:00.000Z"


def test_without_a_hold_every_push_moves_last_activity_at(tmp_path: Path, client: httpx.Client) -> None:
    clock = FakeClock(1_800_000_000.0)
    with ForgeSim(tmp_path, repos=5, clock=clock) as sim:
        sim.push_commit("repo-00004")
        clock.advance(60)
        sim.push_commit("repo-00004")
        assert signal_of(client, sim, "gitlab", "repo-00004") == "2027-01-15T08:01:00.000Z"


# -- wikis --


def wiki_named(sim: ForgeSim, state: str) -> str:
    return next(n for n in sim.repo_names() if sim.wiki_of(n) == state)


def test_a_wiki_with_pages_clones_and_a_disabled_one_is_not_found(tmp_path: Path) -> None:
    with ForgeSim(tmp_path / "forge", repos=9) as sim:
        present = wiki_named(sim, "present")
        git("clone", "--quiet", "--", f"{sim.base_url}/acme/{present}.wiki.git", str(tmp_path / "w"))
        assert (tmp_path / "w" / "README.md").read_text().startswith(f"# {present}.wiki")
        off = git("ls-remote", "--", f"{sim.base_url}/acme/{wiki_named(sim, 'off')}.wiki.git", check=False)
        assert off.returncode != 0 and "not found" in off.stderr


@pytest.mark.parametrize("shape", ["not_found", "no_refs", "server_error"])
def test_an_enabled_wiki_nobody_wrote_answers_as_the_chosen_forge_does(tmp_path: Path, client: httpx.Client, shape: str) -> None:
    with ForgeSim(tmp_path / "forge", repos=9, scenario=Scenario(empty_wiki=shape)) as sim:  # type: ignore[arg-type]
        empty = wiki_named(sim, "empty")
        url = f"{sim.base_url}/acme/{empty}.wiki.git"
        refs = client.get(f"{url}/info/refs?service=git-upload-pack")
        clone = git("clone", "--", url, str(tmp_path / "w"), check=False)
        assert clone.returncode != 0 and not (tmp_path / "w").exists()
        if shape == "not_found":
            assert refs.status_code == 404 and "not found" in clone.stderr
        elif shape == "no_refs":
            assert refs.status_code == 200
            assert refs.headers["content-type"] == "application/x-git-upload-pack-advertisement"
            assert refs.content == b"001e# service=git-upload-pack\n0000"
            assert "Could not read from remote repository" in clone.stderr
        else:
            assert refs.status_code == 500 and "500" in clone.stderr


def test_set_wiki_changes_what_git_and_the_listings_say(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path / "forge", repos=9) as sim:
        name = wiki_named(sim, "off")
        assert client.get(f"{sim.base_url}/repos/acme/{name}").json()["has_wiki"] is False
        sim.set_wiki(name, "present")
        assert client.get(f"{sim.base_url}/repos/acme/{name}").json()["has_wiki"] is True
        assert client.get(f"{sim.base_url}/api/v4/projects/{sim.repo_id(name)}").json()["wiki_enabled"] is True
        git("ls-remote", "--exit-code", "--", f"{sim.base_url}/acme/{name}.wiki.git", "HEAD")
        with pytest.raises(ValueError):
            sim.set_wiki(name, "gone")  # type: ignore[arg-type]


# -- selection fields --


@pytest.mark.parametrize(
    ("version", "has_topics", "has_language"),
    [(None, True, True), ((1, 23), True, True), ((1, 22), False, True), ((1, 16), False, False)],
)
def test_old_gitea_listings_lack_topics_and_language_but_each_repo_still_answers_them(
    tmp_path: Path, client: httpx.Client, version: tuple[int, int] | None, has_topics: bool, has_language: bool
) -> None:
    with ForgeSim(tmp_path, repos=8, scenario=Scenario(gitea_version=version)) as sim:
        expected = f"{version[0]}.{version[1]}.0" if version else "1.23.0"
        assert client.get(f"{sim.base_url}/api/v1/version").json() == {"version": expected}
        listed = client.get(f"{sim.base_url}/api/v1/orgs/acme/repos").json()
        assert all(("topics" in item) is has_topics and ("language" in item) is has_language for item in listed)
        for name in ("repo-00001", "repo-00005"):  # a Go repo, and one with no language
            topics = client.get(f"{sim.base_url}/api/v1/repos/acme/{name}/topics").json()
            assert topics == {"topics": list(sim.topics_of(name))}
            languages = client.get(f"{sim.base_url}/api/v1/repos/acme/{name}/languages").json()
            language = sim.language_of(name)
            assert list(languages) == ([language] if language else [])
            assert all(isinstance(size, int) and size > 0 for size in languages.values())


def test_github_answers_topics_and_languages_per_repo(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path, repos=8) as sim:
        for name in ("repo-00001", "repo-00005"):
            assert client.get(f"{sim.base_url}/repos/acme/{name}/topics").json() == {"names": list(sim.topics_of(name))}
            languages = client.get(f"{sim.base_url}/repositories/{sim.repo_id(name)}/languages").json()
            language = sim.language_of(name)
            assert list(languages) == ([language] if language else [])
        assert client.get(f"{sim.base_url}/repos/acme/nope/topics").status_code == 404


def test_a_quiet_branch_moves_the_refs_and_no_change_signal(tmp_path: Path, client: httpx.Client) -> None:
    clock = FakeClock(1_800_000_000.0)
    with ForgeSim(tmp_path, repos=5, clock=clock) as sim:
        before = {flavour: signal_of(client, sim, flavour, "repo-00002") for flavour in FLAVOURS}
        clock.advance(60)
        sim.set_branch("repo-00002", "hotfix", sim.head_of("repo-00002"), quiet=True)
        assert sim.refs_of("repo-00002")["refs/heads/hotfix"] == sim.head_of("repo-00002")
        assert {flavour: signal_of(client, sim, flavour, "repo-00002") for flavour in FLAVOURS} == before
        sim.set_branch("repo-00002", "other", sim.head_of("repo-00002"))
        assert signal_of(client, sim, "github", "repo-00002") != before["github"]
