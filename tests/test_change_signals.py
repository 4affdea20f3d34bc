"""No push is missed beyond the next run (issue 25): a clone synced within its change signal's resolution (the same
second; GitLab's hour) is checked with ``git ls-remote`` on the next run instead of trusted, a forge with no signal is
checked every run, and ``--verify`` checks every clone and says what the signal missed. Clones the signal vouches for
still cost no git request.

The forge and the pipeline share one injected clock, so "the same second" is exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gz_tui.clock import FakeClock
from gz_tui.forge_sim import ForgeSim, Scenario
from tests.conftest import git_head, run_cli
from tests.helpers import git_path_name, run_pipeline, settings_for

ORG = "acme"
FORGES = ("github", "gitlab", "gitea")


def sync(sim: ForgeSim, dest: Path, provider: str, clock: FakeClock, **changes: Any) -> tuple[int, dict[str, str], list[dict[str, Any]]]:
    """One run; its exit code, each repo's outcome (by its path below the org) and its events. The forge's request
    log is cleared first, so it then holds this run's requests only."""
    sim.clear_log()
    settings = settings_for(sim, dest, provider=provider, base_url=sim.api_url(provider), **changes)
    code, _, events = run_pipeline(settings, clock=clock)
    outcomes = {
        e["repo"].removeprefix(f"{ORG}/"): str(e.get("outcome", e["event"])) for e in events if e["event"] in ("repo_done", "repo_failed")
    }
    return code, outcomes, events


def git_asked(sim: ForgeSim) -> list[str]:
    """The repos git asked the forge about in the last run, one entry per ``info/refs`` (a clone, a fetch or an ls-remote)."""
    return sorted(name for r in sim.requests() if r.kind == "git" and "/info/refs" in r.path if (name := git_path_name(r.path, ORG)))


def summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert events[-1]["event"] == "summary"
    return events[-1]


def pushable(sim: ForgeSim, provider: str) -> str:
    """A repo the listing dates (GitHub lists a few as never pushed: those are checked on every run)."""
    return next(name for name in sim.repo_names(provider)[1:] if name not in never_pushed(sim, provider))


@pytest.mark.parametrize("provider", FORGES)
def test_a_push_in_the_same_second_as_the_sync_is_fetched_by_the_next_run(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    clock = FakeClock(1_800_000_000.2)
    sim: ForgeSim = forge_factory(org=ORG, repos=8, clock=clock)
    dest = tmp_path / ORG
    assert sync(sim, dest, provider, clock)[0] == 0
    name = pushable(sim, provider)
    sim.push_commit(name)
    code, outcomes, _ = sync(sim, dest, provider, clock)  # the signal moved: fetched, in the second of the push
    assert code == 0 and outcomes[name] == "updated"

    clock.advance(0.5)  # the same second: the forge's signal stays where it was
    head = sim.push_commit(name)
    code, outcomes, events = sync(sim, dest, provider, clock)
    assert code == 0 and outcomes[name] == "updated"  # the old code said "unchanged" and left the clone behind
    assert git_head(dest / name, "origin/main") == head
    missed = [e for e in events if e["event"] == "signal_missed"]
    assert [(e["repo"], e["reason"], e["refs"]) for e in missed] == [(f"{ORG}/{name}", "uncertain", 1)]
    blind = never_pushed(sim, provider)
    assert (summary(events)["checked"], summary(events)["missed"]) == (1 + len(blind), 1)
    assert git_asked(sim) == sorted([name, name, *blind])  # its ls-remote, then its fetch

    clock.advance(3600 + 120 if provider == "gitlab" else 120)  # the fetch was within the second (GitLab: the hour) ...
    code, outcomes, events = sync(sim, dest, provider, clock)  # ... plus the clock margin: checked once more ...
    assert code == 0 and outcomes[name] == "unchanged" and summary(events)["missed"] == 0
    assert git_asked(sim).count(name) == 1
    code, outcomes, events = sync(sim, dest, provider, clock)  # ... and is certain from then on: no git request
    assert code == 0 and set(outcomes.values()) == {"unchanged"}
    assert git_asked(sim) == sorted(never_pushed(sim, provider)) and summary(events)["checked"] == len(never_pushed(sim, provider))


def never_pushed(sim: ForgeSim, provider: str) -> set[str]:
    """Repos the listing gives no change signal (GitHub ``pushed_at: null``): checked with ls-remote on every run."""
    if provider != "github":
        return set()
    from tests.helpers import github_listing

    return {item["name"] for item in github_listing(sim.base_url, ORG) if item.get("pushed_at") is None}


def test_a_gitlab_push_within_the_activity_hour_is_fetched_by_the_next_run(forge_factory: Any, tmp_path: Path) -> None:
    clock = FakeClock(1_800_000_000.0)
    sim: ForgeSim = forge_factory(org=ORG, repos=8, clock=clock, scenario=Scenario(gitlab_activity_hold=3600))
    dest = tmp_path / ORG
    assert sync(sim, dest, "gitlab", clock)[0] == 0
    names = sim.repo_names("gitlab")
    name = names[2]
    sim.push_commit(name)
    clock.advance(30)
    assert sync(sim, dest, "gitlab", clock)[1][name] == "updated"

    clock.advance(1800)
    head = sim.push_commit(name)  # within the hour: last_activity_at does not move
    clock.advance(600)
    code, outcomes, events = sync(sim, dest, "gitlab", clock)
    assert code == 0 and outcomes[name] == "updated" and git_head(dest / name, "origin/main") == head
    assert summary(events)["missed"] == 1 and git_asked(sim) == [name, name]
    assert {n: o for n, o in outcomes.items() if n != name} == dict.fromkeys(set(names) - {name}, "unchanged")

    clock.advance(3600)
    code, outcomes, events = sync(sim, dest, "gitlab", clock)  # the last fetch was within the hour: checked once more
    assert code == 0 and outcomes[name] == "unchanged" and git_asked(sim) == [name]
    code, outcomes, _ = sync(sim, dest, "gitlab", clock)
    assert code == 0 and git_asked(sim) == []


@pytest.mark.slow
@pytest.mark.parametrize("provider", FORGES)
def test_verify_checks_every_clone_and_reports_what_the_signal_missed(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    """A ref the server moved without moving the signal: the signal is trusted until ``--verify``, which checks what
    each kind of copy holds (a mirror and a full clone keep every branch, a single-branch clone only its own)."""
    clock = FakeClock(1_800_000_000.0)
    sim: ForgeSim = forge_factory(org=ORG, repos=10, clock=clock)
    kinds = {"checkout": {}, "mirror": {"mirror": True}, "single": {"single_branch": True}}
    for kind, changes in kinds.items():
        assert sync(sim, tmp_path / kind, provider, clock, **changes)[0] == 0
    names = sim.repo_names(provider)
    name = pushable(sim, provider)
    sim.set_branch(name, "hotfix", sim.head_of(name), quiet=True)
    clock.advance(600)

    code, outcomes, events = sync(sim, tmp_path / "checkout", provider, clock)
    assert code == 0 and outcomes[name] == "unchanged" and git_asked(sim) == sorted(never_pushed(sim, provider))

    for kind, changes in kinds.items():
        code, outcomes, events = sync(sim, tmp_path / kind, provider, clock, verify=True, **changes)
        assert code == 0, kind
        assert summary(events)["checked"] == len(names), kind
        missed = [e["repo"] for e in events if e["event"] == "signal_missed"]
        if kind == "single":
            assert missed == [] and set(outcomes.values()) == {"unchanged"}
            assert git_asked(sim) == sorted(names)  # one ls-remote each, no fetch
            continue
        assert missed == [f"{ORG}/{name}"] and summary(events)["missed"] == 1, kind
        assert {n for n, o in outcomes.items() if o != "unchanged"} == {name}
        assert sorted(git_asked(sim)) == sorted([*names, name])
    assert git_head(tmp_path / "checkout" / name, "origin/hotfix") == sim.head_of(name)
    assert git_head(tmp_path / "mirror" / f"{name}.git", "refs/heads/hotfix") == sim.head_of(name)


@pytest.mark.slow
def test_verify_in_headless_output_names_each_repo_and_counts_in_the_summary(forge_factory: Any, tmp_path: Path) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=6)
    dest = tmp_path / ORG
    args = [ORG, "--base-url", sim.base_url, "--dest", str(dest), "--token", ""]
    assert run_cli(*args).returncode == 0
    name = sim.repo_names()[3]
    sim.set_branch(name, "hotfix", sim.head_of(name), quiet=True)
    result = run_cli(*args, "--verify")
    assert result.returncode == 0, result.stderr
    assert f"note: {ORG}/{name}: 1 ref moved although its change signal (" in result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert "updated 1 · unchanged 5" in line and "checked with ls-remote 6 · missed by the change signal 1" in line
    again = run_cli(*args, "--verify", "--json")
    events = [json.loads(line) for line in again.stdout.splitlines()]
    assert not [e for e in events if e["event"] == "signal_missed"]
    assert (events[-1]["checked"], events[-1]["missed"], events[-1]["unchanged"]) == (6, 0, 6)


def test_data_center_checks_every_clone_with_ls_remote_and_fetches_only_what_moved(forge_factory: Any, tmp_path: Path) -> None:
    clock = FakeClock(1_800_000_000.0)
    sim: ForgeSim = forge_factory(org=ORG, repos=8, clock=clock)
    dest = tmp_path / ORG
    assert sync(sim, dest, "bitbucket-server", clock)[0] == 0
    names = sim.repo_names("bitbucket-server")
    code, outcomes, events = sync(sim, dest, "bitbucket-server", clock)
    assert code == 0 and outcomes == dict.fromkeys(names, "unchanged")
    assert git_asked(sim) == sorted(names) and summary(events)["checked"] == len(names)
    pushed = names[5]
    head = sim.push_commit(pushed)
    code, outcomes, events = sync(sim, dest, "bitbucket-server", clock)
    assert code == 0 and outcomes == {n: "updated" if n == pushed else "unchanged" for n in names}
    assert git_asked(sim) == sorted([*names, pushed]) and git_head(dest / pushed, "origin/main") == head
    assert summary(events)["missed"] == 0  # no signal to miss anything: nothing is reported as missed


# --------------------------------------------------------------------------- dry runs predict the run


@pytest.mark.parametrize("provider", FORGES)
def test_a_dry_run_would_update_only_what_moved_or_is_uncertain(forge_factory: Any, tmp_path: Path, provider: str) -> None:
    clock = FakeClock(1_800_000_000.0)
    sim: ForgeSim = forge_factory(org=ORG, repos=10, clock=clock)
    dest = tmp_path / ORG
    assert sync(sim, dest, provider, clock)[0] == 0
    names, blind = sim.repo_names(provider), never_pushed(sim, provider)
    name = pushable(sim, provider)
    clock.advance(600)
    sim.push_commit(name)

    def planned() -> tuple[dict[str, tuple[str, str | None]], dict[str, Any]]:
        code, _, events = sync(sim, dest, provider, clock, dry_run=True)
        assert code == 0 and git_asked(sim) == []
        plans = {e["repo"].removeprefix(f"{ORG}/"): (e["action"], e.get("reason")) for e in events if e["event"] == "repo_planned"}
        return plans, summary(events)

    plans, totals = planned()  # the old code: "would update" every clone on disk
    assert plans[name] == ("update", "pushed since the last sync")
    assert {n for n, (action, _) in plans.items() if action == "update"} == {name, *blind}
    assert {n for n, (action, _) in plans.items() if action == "unchanged"} == set(names) - {name, *blind}
    assert (totals["would_update"], totals["would_leave"], totals["would_clone"]) == (1 + len(blind), len(names) - 1 - len(blind), 0)

    code, outcomes, _ = sync(sim, dest, provider, clock)  # what the real run does is what was predicted
    assert {n for n, o in outcomes.items() if o == "updated"} == {name}
    plans, totals = planned()  # synced in the second of the push: the next run checks it with ls-remote
    assert plans[name] == ("update", "synced within its change signal's resolution: git ls-remote decides")
    assert totals["would_update"] == 1 + len(blind)


def test_a_headless_dry_run_lists_each_repo_with_what_would_happen(forge_factory: Any, tmp_path: Path) -> None:
    sim: ForgeSim = forge_factory(org=ORG, repos=6)
    dest = tmp_path / ORG
    args = [ORG, "--provider", "gitea", "--base-url", sim.base_url, "--dest", str(dest), "--token", ""]  # every repo dated
    first = run_cli(*args, "--dry-run").stdout.strip().splitlines()
    assert first[:-1] == [f"would clone {ORG}/{name}" for name in sim.repo_names("gitea")]
    assert run_cli(*args).returncode == 0
    sim.push_commit(sim.repo_names("gitea")[2])
    lines = run_cli(*args, "--dry-run").stdout.strip().splitlines()
    expected = {
        f"would update {ORG}/{name} (pushed since the last sync)" if i == 2 else f"unchanged {ORG}/{name} (not pushed since the last sync)"
        for i, name in enumerate(sim.repo_names("gitea"))
    }
    assert set(lines[:-1]) == expected and len(lines) == 7
    assert "would clone 0 · would update 1 · unchanged 5 · " in lines[-1]


def test_a_version_2_state_is_migrated_and_its_clones_checked_once(forge_factory: Any, tmp_path: Path) -> None:
    """A state from before gz-tui recorded when a clone's refs matched the forge's: nothing is known to be certain,
    so the first run after the upgrade checks each clone once with ls-remote (fetching none); then none again."""
    import sqlite3

    from gz_tui.pipeline.state import SCHEMA_VERSION

    clock = FakeClock(1_800_000_000.0)
    sim: ForgeSim = forge_factory(org=ORG, repos=6, clock=clock)
    dest = tmp_path / ORG
    assert sync(sim, dest, "gitea", clock)[0] == 0
    state = dest / ".gz-tui" / "state.sqlite3"
    with sqlite3.connect(state) as db:
        db.execute("ALTER TABLE repos DROP COLUMN synced_at")
        db.execute("ALTER TABLE repos DROP COLUMN disk_path")  # version 4's
        db.execute("ALTER TABLE attic DROP COLUMN kind")
        db.execute("ALTER TABLE repos DROP COLUMN private")  # version 5's
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.close()
    code, outcomes, events = sync(sim, dest, "gitea", clock)
    assert code == 0 and set(outcomes.values()) == {"unchanged"}
    assert git_asked(sim) == sorted(sim.repo_names("gitea")) and summary(events)["checked"] == 6
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    db.close()
    assert sync(sim, dest, "gitea", clock)[0] == 0 and git_asked(sim) == []
