"""A forge that attacks its client (issue 26, items 8, 9, 10 and 12): listings that never end or blow up their parser,
git transfers that stall, rate-limit headers that lie, refs and HEADs that say less than they seem.

Every test runs gz-tui against a real server on loopback (the embedded forge with a ``Scenario`` knob, or a small
threaded server for a wire detail the forge has no knob for), with a fake clock wherever a wait would be long.
"""

from __future__ import annotations

import gzip
import json
import resource
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from gz_tui.clock import FakeClock
from gz_tui.forge_sim import ForgeSim, Scenario
from gz_tui.forge_sim.hostile import gzip_bomb_length
from gz_tui.forges.bounded import MAX_BODY_BYTES
from tests.helpers import git_processes_touching, run_pipeline, settings_for
from tests.test_security import FakeServer, plain_settings
from tests.test_security import servers as servers  # a fixture: pytest finds it by this name

FORGES = ("github", "gitea", "gitlab")
REPOS = 250
"""Three pages on GitHub and GitLab (100 a page), five on Gitea (50): a spoiled page 2 has pages on either side."""


def run_cli_on(sim: ForgeSim, provider: str, dest: Path, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``gz-tui`` as a user runs it, in its own process (so its peak memory can be read afterwards)."""
    argv = [sys.executable, "-m", "gz_tui", sim.org, "--provider", provider, "--base-url", sim.api_url(provider)]
    return subprocess.run(
        [*argv, "--dest", str(dest), "--json", *extra], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def events_of(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    """The run's one-line reason for stopping the listing (and no traceback anywhere)."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    failures = [e for e in events_of(result) if e["event"] == "listing_failed"]
    assert len(failures) == 1, result.stdout[-2000:]
    message = failures[0]["message"]
    assert "\n" not in message
    return str(message)


def listing_requests(sim: ForgeSim) -> int:
    return len([r for r in sim.api_requests() if "/repos" in r.path or "/projects" in r.path])


# -- 8. listings that never end --


@pytest.mark.parametrize("provider", FORGES)
@pytest.mark.parametrize("kind", ["self_next", "next_cycle"])
def test_a_listing_whose_next_link_goes_back_stops_at_once_with_one_line(tmp_path: Path, provider: str, kind: str) -> None:
    scenario = Scenario(hostile_listing=kind)  # type: ignore[arg-type]
    with ForgeSim(tmp_path / "forge", repos=REPOS, scenario=scenario) as sim:
        result = run_cli_on(sim, provider, tmp_path / "acme", "--dry-run", timeout=60)
        assert result.returncode == 1, result.stderr[-2000:]
        message = one_line_failure(result)
        assert "the listing loops" in message and "already received" in message
        # Pages 1 and 2 (and on GitLab the page after 2, whose projects repeat an earlier page's): never one more.
        assert listing_requests(sim) <= 4, [r.path for r in sim.api_requests()]
        summary = events_of(result)[-1]
        assert summary["event"] == "summary" and summary["exit_code"] == 1


@pytest.mark.parametrize("kind", ["self_next", "next_cycle", "deep_json"])
def test_gitlab_keyset_pages_of_a_whole_instance_are_guarded_too(tmp_path: Path, kind: str) -> None:
    """``--all`` on GitLab follows keyset links (``pagination=keyset``, ``id_after`` in the link): a link back is refused."""
    scenario = Scenario(hostile_listing=kind)  # type: ignore[arg-type]
    with ForgeSim(tmp_path / "forge", repos=REPOS, scenario=scenario) as sim:
        settings = settings_for(
            sim, tmp_path / "all", owner="", instance=True, provider="gitlab", base_url=sim.api_url("gitlab"), dry_run=True
        )
        code, _, events = run_pipeline(settings)
        assert code == 1
        failure = next(e for e in events if e["event"] == "listing_failed")
        assert ("nests deeper" if kind == "deep_json" else "the listing loops") in failure["message"]
        assert listing_requests(sim) <= 3


@pytest.mark.parametrize("provider", FORGES)
def test_a_page_nested_deeper_than_any_forge_answer_stops_the_listing_with_one_line(tmp_path: Path, provider: str) -> None:
    with ForgeSim(tmp_path / "forge", repos=REPOS, scenario=Scenario(hostile_listing="deep_json")) as sim:
        result = run_cli_on(sim, provider, tmp_path / "acme", "--dry-run")
        assert result.returncode == 1
        assert "nests deeper than 64 levels" in one_line_failure(result)


@pytest.mark.parametrize("provider", FORGES)
def test_a_gzip_bomb_page_is_read_to_the_bound_only_and_the_listing_stops_with_one_line(tmp_path: Path, provider: str) -> None:
    with ForgeSim(tmp_path / "forge", repos=REPOS, scenario=Scenario(hostile_listing="gzip_bomb")) as sim:
        result = run_cli_on(sim, provider, tmp_path / "acme", "--dry-run")
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far: this run at most
        assert result.returncode == 1, result.stderr[-2000:]
        message = one_line_failure(result)
        assert f"over {MAX_BODY_BYTES >> 20} MiB once decoded" in message and "cannot be read" in message
        # The bomb is 3 MB on the wire and inflates to 3 GiB; the run inflated the bound's worth of it, no more.
        assert gzip_bomb_length() > 3 << 20
        assert peak_kib < 400 * 1024, f"peak {peak_kib // 1024} MiB"


@pytest.mark.slow
def test_a_listing_stopped_by_a_hostile_page_saves_its_state_and_prunes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "acme"
    with ForgeSim(tmp_path / "forge", repos=60) as sim:  # Gitea pages by 50: page 2 holds 10
        assert run_cli_on(sim, "gitea", dest).returncode == 0
        sim.remove_repo("repo-00003")
        sim.scenario.hostile_listing = "gzip_bomb"
        result = run_cli_on(sim, "gitea", dest, "--prune")
        assert result.returncode == 1
        assert "once decoded" in one_line_failure(result)
        assert (dest / "repo-00003" / ".git").is_dir(), "an unfinished listing proves nothing gone"
        sim.scenario.hostile_listing = None
        again = run_cli_on(sim, "gitea", dest, "--prune")
        assert again.returncode == 0, again.stderr[-2000:]
        assert not (dest / "repo-00003").exists(), "the next whole listing prunes it"


# -- 10. rate-limit headers that lie --


def lied_run(tmp_path: Path, provider: str, scenario: Scenario) -> tuple[int, list[dict[str, Any]], ForgeSim, FakeClock]:
    clock = FakeClock()
    with ForgeSim(tmp_path / "forge", repos=REPOS, clock=clock, scenario=scenario) as sim:
        settings = settings_for(sim, tmp_path / "acme", provider=provider, base_url=sim.api_url(provider), dry_run=True)
        code, _, events = run_pipeline(settings, clock=clock)
    return code, events, sim, clock


def waits_of(events: list[dict[str, Any]]) -> list[tuple[str, float]]:
    return [(e["kind"], e["seconds"]) for e in events if e["event"] == "rate_limit_wait"]


@pytest.mark.parametrize("provider", ["github", "gitea"])
@pytest.mark.parametrize("lie", ["retry_after_negative", "retry_after_zero", "retry_after_past_date"])
def test_a_retry_after_of_no_time_at_all_still_waits_a_few_seconds(tmp_path: Path, provider: str, lie: str) -> None:
    code, events, sim, _ = lied_run(tmp_path, provider, Scenario(secondary_every=2, rate_limit_lie=lie))  # type: ignore[arg-type]
    assert code == 0 and events[-1]["listed"] == REPOS
    waits = waits_of(events)
    assert waits and all(seconds >= 5.0 for _, seconds in waits), waits


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_a_primary_reset_already_past_is_not_asked_again_every_second(tmp_path: Path, provider: str) -> None:
    """The forge refuses for 10 minutes while saying its window reset an hour ago (a client clock ahead of it)."""
    scenario = Scenario(primary_limit=2, primary_window=600, rate_limit_lie="reset_in_past")
    code, events, sim, _ = lied_run(tmp_path, provider, scenario)
    assert code == 0 and events[-1]["listed"] == REPOS
    refused = [r for r in sim.api_requests() if r.rate_limited]
    assert 1 <= len(refused) <= 8, f"{len(refused)} refused requests in 10 minutes"  # was one a second: ~600
    waits = [seconds for kind, seconds in waits_of(events) if kind == "primary"]
    assert waits[0] >= 5.0 and waits == sorted(waits), waits  # a floor, doubling while the forge keeps refusing


@pytest.mark.parametrize("provider", ["github", "gitea"])
def test_a_huge_retry_after_is_capped_at_an_hour_and_said_once(tmp_path: Path, provider: str) -> None:
    code, events, _, _ = lied_run(tmp_path, provider, Scenario(secondary_every=2, rate_limit_lie="retry_after_huge"))
    assert code == 0 and events[-1]["listed"] == REPOS
    waits = waits_of(events)
    assert waits and all(seconds == 3600.0 for _, seconds in waits), waits
    notices = [e["message"] for e in events if e["event"] == "notice" and "at most" in e["message"]]
    assert len(notices) == 1 and "99,999,999,999 s" in notices[0] and "3,600 s at most" in notices[0]


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_a_nan_reset_is_absent_and_the_used_up_quota_gets_the_default_wait(tmp_path: Path, provider: str) -> None:
    code, events, sim, _ = lied_run(tmp_path, provider, Scenario(primary_limit=2, primary_window=300, rate_limit_lie="reset_nan"))
    assert code == 0 and events[-1]["listed"] == REPOS  # GitHub's 403 was "access forbidden", exit 2
    waits = [seconds for _, seconds in waits_of(events)]
    assert waits and min(waits) >= 60.0, waits
    assert len([r for r in sim.api_requests() if r.rate_limited]) <= 4


# -- 9. git transfers that stall --


def stalled_run(tmp_path: Path, scenario: Scenario, **changes: Any) -> tuple[int, list[dict[str, Any]], float, ForgeSim]:
    with ForgeSim(tmp_path / "forge", repos=4, scenario=scenario) as sim:
        settings = settings_for(sim, tmp_path / "acme", attempts=2, **changes)
        began = time.monotonic()
        code, _, events = run_pipeline(settings, git_backoff=0.01)
        return code, events, time.monotonic() - began, sim


def failure_of(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(e for e in events if e["event"] == "repo_failed" and e["repo"] == f"acme/{name}")


@pytest.mark.parametrize("knob", ["git_stall", "git_trickle"])
def test_a_pack_that_stops_or_trickles_is_a_network_failure_within_the_speed_bound(tmp_path: Path, knob: str) -> None:
    scenario = Scenario(git_stall=("repo-00001",)) if knob == "git_stall" else Scenario(git_trickle=("repo-00001",))
    code, events, took, sim = stalled_run(tmp_path, scenario, git_low_speed_time=1)
    assert code == 1
    failure = failure_of(events, "repo-00001")
    assert failure["error_class"] == "network" and failure["attempts"] == 2, failure  # retried like any network failure
    assert "too slow" in failure["message"].lower(), failure
    done = {e["repo"] for e in events if e["event"] == "repo_done"}
    assert done == {f"acme/{name}" for name in sim.repo_names() if name != "repo-00001"}
    assert took < 30, f"{took:.1f} s"  # two attempts of about a second each (the default: a minute each)


def test_a_git_process_past_its_wall_clock_ceiling_is_stopped_and_retried(tmp_path: Path) -> None:
    """4 bytes a second is above a 1-byte speed bound (what ssh, which has none, looks like): the ceiling stops it."""
    scenario = Scenario(git_trickle=("repo-00001",), git_trickle_rate=4.0)
    code, events, took, _ = stalled_run(tmp_path, scenario, git_low_speed_limit=1, git_low_speed_time=600, git_timeout=2)
    assert code == 1
    failure = failure_of(events, "repo-00001")
    assert failure["error_class"] == "network" and failure["attempts"] == 2, failure
    assert "stopped after 2 s" in failure["message"] and "--git-timeout" in failure["message"]
    assert took < 30, f"{took:.1f} s"
    assert git_processes_touching(tmp_path / "acme") == [], "no git outlives its attempt"


# -- 12. smaller untruths --


def test_a_ref_name_longer_than_a_file_name_is_unsafe_with_its_cause_kept(tmp_path: Path) -> None:
    with ForgeSim(tmp_path / "forge", repos=3) as sim:
        settings = settings_for(sim, tmp_path / "acme", attempts=1)
        assert run_pipeline(settings)[0] == 0
        sim.set_branch("repo-00001", "b" * 300, sim.refs_of("repo-00001")["refs/heads/main"])  # the forge holds it packed
        code, _, events = run_pipeline(settings)
        assert code == 1
        failure = failure_of(events, "repo-00001")
        assert failure["error_class"] == "unsafe", failure  # no disk is full; a retry cannot help
        assert failure["message"].endswith("File name too long"), failure["message"]
        assert "cannot lock ref" in failure["message"] and len(failure["message"]) <= 300


def test_a_head_naming_a_branch_the_repo_lacks_is_said_not_reported_cloned(tmp_path: Path) -> None:
    with ForgeSim(tmp_path / "forge", repos=3) as sim:
        sim.point_head_at("repo-00002", "gone")  # the listings name "gone" as the default branch too
        settings = settings_for(sim, tmp_path / "acme")
        for _ in range(2):  # the clone, then the update of that clone
            code, _, events = run_pipeline(settings)
            assert code == 0
            outcome = next(e for e in events if e["event"] in ("repo_done", "repo_skipped") and e["repo"] == "acme/repo-00002")
            assert outcome["outcome"] == "skipped", outcome
            assert "no default branch" in outcome["message"] and "'gone'" in outcome["message"] and "2 branches" in outcome["message"]
        assert (tmp_path / "acme" / "repo-00002" / ".git").is_dir(), "its branches are kept on disk"


# -- honest compressed pages still read whole --


def test_gzip_and_both_deflate_forms_are_read_as_before(servers: Callable[..., FakeServer], tmp_path: Path) -> None:
    """The bounded reader replaces httpx's decoding: every coding a forge may answer with (gzip, zlib-wrapped deflate,
    raw deflate, none) is read whole, and only those are asked for (no br or zstd this reader cannot bound)."""
    forge: FakeServer

    def encoded(coding: str, data: bytes) -> bytes:
        if coding == "gzip":
            return gzip.compress(data)
        if coding == "deflate-zlib":
            return zlib.compress(data)
        if coding == "deflate-raw":
            squeeze = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
            return squeeze.compress(data) + squeeze.flush()
        return data

    codings = ["gzip", "deflate-zlib", "deflate-raw", "identity"]

    def listing(path: str) -> tuple[int, dict[str, str], bytes]:
        page = int(parse_qs(urlsplit(path).query).get("page", ["1"])[0])
        name = f"r{page}"
        repo = {
            "id": page,
            "name": name,
            "full_name": f"acme/{name}",
            "clone_url": f"{forge.origin}/acme/{name}.git",
            "owner": {"login": "acme"},
        }
        repo["description"] = "x" * 50_000  # several network reads per page
        coding = codings[page - 1]
        headers = {"Content-Type": "application/json", "Content-Encoding": coding.split("-")[0]}
        if page < len(codings):
            headers["Link"] = f'<{forge.origin}/orgs/acme/repos?per_page=100&page={page + 1}>; rel="next"'
        return 200, headers, encoded(coding, json.dumps([repo]).encode())

    forge = servers(
        routes={
            "/orgs/acme/repos": listing,
            "/orgs/acme": lambda _: (200, {"Content-Type": "application/json"}, b'{"public_repos": 4}'),
        }
    )
    code, _, events = run_pipeline(plain_settings(forge.origin, tmp_path / "acme", dry_run=True))
    assert code == 0, [e for e in events if e["event"] == "listing_failed"]
    assert events[-1]["listed"] == 4
    asked = {headers.get("accept-encoding") for _, path, headers in forge.requests if path.startswith("/orgs/acme/repos")}
    assert asked == {"gzip, deflate"}


def test_a_head_naming_a_missing_branch_gets_the_branch_the_forge_names_checked_out(tmp_path: Path) -> None:
    with ForgeSim(tmp_path / "forge", repos=3) as sim:
        sim.point_head_at("repo-00002", "gone")
        sim._catalog.change(sim._meta("repo-00002"), default_branch="develop")  # the API's word and git's HEAD disagree
        code, _, events = run_pipeline(settings_for(sim, tmp_path / "acme"))
        assert code == 0
        done = next(e for e in events if e["event"] == "repo_done" and e["repo"] == "acme/repo-00002")
        assert done["outcome"] == "cloned" and done["commit"] == sim.refs_of("repo-00002")["refs/heads/develop"]
        clone = tmp_path / "acme" / "repo-00002"
        assert (clone / "README.md").is_file()
        assert (clone / ".git" / "HEAD").read_text().strip() == "ref: refs/heads/develop"
