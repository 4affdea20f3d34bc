"""The command line as a user meets it: exit codes, one-line errors, JSON events, and no token anywhere."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gz_tui.cli import parse
from gz_tui.config.options import UsageError, setting_options
from gz_tui.config.settings import RULES
from gz_tui.forge_sim import Scenario
from gz_tui.kinds import ProviderName
from tests.conftest import run_cli
from tests.helpers import repo_dirs, token_variable

TOKEN = "ghp_s3cretTOKENvalue1234567890"


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and "no token" not in line]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word.lower() in lines[0].lower()


def test_unknown_org_is_one_line_exit_2(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=3)
    result = run_cli("no-such-org", "--base-url", sim.base_url, "--dest", str(tmp_path / "d"))
    assert_one_line_error(result, 2, "not found", "no-such-org")
    assert not (tmp_path / "d").exists(), "a typo'd owner must not leave an empty destination behind"
    (tmp_path / "mine").mkdir()
    assert run_cli("no-such-org", "--base-url", sim.base_url, "--dest", str(tmp_path / "mine")).returncode == 2
    assert (tmp_path / "mine").is_dir(), "a folder that existed before is never removed"


@pytest.mark.parametrize(
    ("provider", "wrong"), [(str(p), "wrong-token") for p in ProviderName] + [("bitbucket", "me@example.com:wrong-token")]
)
def test_bad_token_is_one_line_exit_2_and_not_retried(forge_factory: Any, tmp_path: Path, provider: str, wrong: str) -> None:
    sim = forge_factory(org="acme", repos=3, token=TOKEN)
    args = ("acme", "--provider", provider, "--base-url", sim.api_url(provider), "--dest", str(tmp_path / "d"))
    result = run_cli(*args, env={token_variable(provider): wrong})
    assert_one_line_error(result, 2, "credentials", "token")
    assert len(sim.api_requests()) == 1
    assert "wrong-token" not in result.stderr + result.stdout


def test_unreachable_host_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run_cli("acme", "--base-url", "http://127.0.0.1:9", "--dest", str(tmp_path / "d"))
    assert_one_line_error(result, 2, "cannot reach")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["acme", "--include", "("], ["--include", "regular expression"]),
        (["acme", "--workers", "0"], ["--workers"]),
        (["acme", "--workers", "100000"], ["--workers must be at most 64"]),
        (["acme", "--buffer", "10000000"], ["--buffer must be at most 100,000"]),
        (["acme", "--base-url", "http://example.com"], ["plain http"]),
        (["acme", "--base-url", "https://user:pw@example.com"], ["credentials"]),
        (["acme", "--provider", "fossil"], ["invalid choice"]),
        (["acme", "--provider", "bitbucket-server"], ["bitbucket-server has no public instance", "--base-url"]),
        (["acme", "--provider", "gitea", "--project", "CORE"], ["--project", "gitea has no such listing"]),
        ([], ["owner"]),
    ],
)
def test_bad_usage_is_one_line_exit_2(args: list[str], words: list[str], tmp_path: Path) -> None:
    result = run_cli(*args, "--dest", str(tmp_path / "d"))
    assert_one_line_error(result, 2, *words)
    assert "pw" not in result.stderr


def test_version_and_help() -> None:
    assert run_cli("--version").stdout.startswith("gz-tui ")
    help_text = run_cli("--help").stdout
    assert "examples:" in help_text and "exit codes" in help_text


def option_line(name: str) -> str:
    """The option of setting ``name`` as ``--help`` shows it, invocation then help, declared in ``RULES``."""
    rule = RULES[name]
    if rule.kind.action == "store_true":
        return f"{rule.flag} {rule.help or ''}".strip()
    value = rule.metavar or ("{" + ",".join(rule.kind.choices) + "}" if rule.kind.choices else name.upper())
    return f"{rule.flag} {value} {rule.help or ''}".strip()


@pytest.mark.parametrize("command", [[], ["sync"]])
def test_help_lists_every_setting_option_in_declaration_order_with_its_declared_help(command: list[str]) -> None:
    help_text = run_cli(*command, "--help", env={"COLUMNS": "1000"}).stdout  # no line wrapped
    options = " ".join(help_text[help_text.index("options:") :].split())
    places = [options.find(f" {option_line(name)} ") for name in setting_options()]
    assert -1 not in places, [option_line(name) for name, at in zip(setting_options(), places, strict=True) if at == -1]
    assert places == sorted(places)
    assert " --workers N parallel git processes (default 8, at most 64) " in options


def test_the_readme_options_table_lists_exactly_the_options_of_a_run() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Options") :].split("\n### ", 1)[0]
    first_cells = [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| `")]
    in_table = set(re.findall(r"`(--[a-z][a-z0-9-]*)", "\n".join(first_cells)))
    assert in_table == {"--owner", *(RULES[name].flag for name in setting_options())}


@pytest.mark.parametrize(
    ("args", "owners"),
    [
        (["acme", "--dry-run", "kubernetes"], ["acme", "kubernetes"]),
        (["--workers", "3", "acme", "--json", "kubernetes", "--dest", "d", "cncf"], ["acme", "kubernetes", "cncf"]),
        (["--dry-run", "--", "status", "--json"], ["status"]),
        (["--owner", "sync"], ["sync"]),
        (["run"], ["run"]),
    ],
)
def test_owners_may_come_before_between_and_after_the_options(args: list[str], owners: list[str]) -> None:
    ns = parse(args)
    assert ns.command == "run" and ns.owners == owners


def test_the_targets_of_sync_may_come_between_the_options() -> None:
    ns = parse(["sync", "apache", "--dry-run", "work", "--workers", "4"])
    assert (ns.command, ns.names, ns.dry_run, ns.workers) == ("sync", ["apache", "work"], True, 4)


@pytest.mark.parametrize(
    ("args", "prog", "message"),
    [
        (["acme", "--bogus", "x"], "gz-tui", "unknown option --bogus (see gz-tui --help)"),
        (["sync", "a", "--bogus"], "gz-tui sync", "unknown option --bogus (see gz-tui sync --help)"),
        (["status", "a", "b"], "gz-tui status", "unrecognized arguments: b"),
        (["acme", "--sk"], "gz-tui", "unknown option --sk; did you mean --skip-archived or --skip-forks?"),  # never taken
        (["config"], "gz-tui config", "the following arguments are required: {init,show,path}"),
    ],
)
def test_a_refused_command_line_names_the_command_whose_help_to_read(args: list[str], prog: str, message: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse(args)
    assert (refused.value.prog, refused.value.message) == (prog, message)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["status", "--bogus"], "gz-tui: unknown option --bogus (see gz-tui status --help)"),
        (["sync", "--workers", "x"], "gz-tui: argument --workers: invalid int value: 'x' (see gz-tui sync --help)"),
        (["config", "init", "--forse"], "gz-tui config: error: unknown option --forse; did you mean --force?"),
        (
            ["acme", "--provider", "fossil"],
            f"gz-tui: argument --provider: invalid choice: 'fossil' (choose from {', '.join(map(repr, map(str, ProviderName)))}) (see gz-tui --help)",
        ),
    ],
)
def test_usage_errors_of_every_command_are_one_line_exit_2(args: list[str], line: str) -> None:
    result = run_cli(*args)
    assert (result.returncode, result.stderr, result.stdout) == (2, line + "\n", "")


def test_help_says_how_to_name_an_owner_called_like_a_command() -> None:
    help_text = run_cli("--help").stdout
    assert "--owner NAME" in help_text and "gz-tui -- status" in help_text


def test_an_owner_named_status_is_synced_with_the_owner_flag(tmp_path: Path) -> None:
    result = run_cli("--owner", "status", "--base-url", "http://127.0.0.1:1", "--dest", str(tmp_path / "d"))
    assert_one_line_error(result, 2, "cannot reach")  # the sync path, not the status command


def test_the_word_after_double_dash_is_the_owner_and_options_may_follow(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="config", repos=4)
    result = run_cli("--", "config", "--dry-run", "--json", "--base-url", sim.base_url, "--dest", str(tmp_path / "config"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["event"] == "summary" and summary["listed"] == 4 and summary["would_clone"] == 4


@pytest.mark.parametrize("args", [["sync"], ["--json", "status"], ["--dry-run", "config"]])
def test_a_command_word_is_never_taken_as_an_owner(args: list[str], tmp_path: Path) -> None:
    result = run_cli(*args, "--base-url", "http://127.0.0.1:1", "--dest", str(tmp_path / "d"))
    assert_one_line_error(result, 2, "--owner")
    assert "cannot reach" not in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["acme", "--owner", "other", "--base-url", "http://127.0.0.1:1"], ["one owner", "'acme'", "'other'"]),
        (["acme", "--base-url", "http://127.0.0.1:1", "--", "other"], ["one owner", "'acme'", "'other'"]),
        (["--dry-run", "--"], ["-- must be followed by the owner"]),
    ],
)
def test_the_owner_is_named_exactly_once(args: list[str], words: list[str]) -> None:
    assert_one_line_error(run_cli(*args), 2, *words)


def test_dry_run_json_lists_filters_and_clones_nothing(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=25)
    dest = tmp_path / "acme"
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--dry-run", "--json", "--skip-forks")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    summary = events[-1]
    assert summary["event"] == "summary"
    assert summary["listed"] == 25
    assert summary["would_clone"] + summary["skipped"] == 25
    assert summary["skipped"] >= 1
    assert {e["event"] for e in events} >= {"page", "repo_planned", "repo_skipped", "summary"}
    assert repo_dirs(dest) == set()
    assert not [e for e in sim.requests() if e.kind == "git"]


def test_dry_run_summary_adds_up_including_refusals(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=10, scenario=Scenario(hostile=True))
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(tmp_path / "acme"), "--dry-run")
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    numbers = {word: int(n.replace(",", "")) for word, n in re.findall(r"would (clone|update|refuse) ([\d,]+)", summary)}
    numbers["listed"] = int(re.search(r"([\d,]+) listed", summary).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert numbers["refuse"] >= 1, summary
    assert numbers["listed"] == numbers["clone"] + numbers["update"] + numbers["refuse"], summary


def test_json_mode_reports_each_repo_and_exit_code(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=12)
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(tmp_path / "acme"), "--json", "--workers", "3")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    done = [e for e in events if e["event"] == "repo_done"]
    assert len(done) == 12 and all(e["outcome"] == "cloned" and len(e["commit"]) == 40 for e in done)
    assert events[-1]["event"] == "summary" and events[-1]["cloned"] == 12


def test_a_second_gz_tui_on_the_same_dest_is_refused_naming_the_pid(forge_factory: Any, tmp_path: Path) -> None:
    # git answers each clone after 5 s: the first run holds the lock far longer than a loaded machine takes to start
    # the second (a first run done before the second looked would make this pass for the wrong reason, or fail)
    sim = forge_factory(org="acme", repos=30, scenario=Scenario(latency=0.3, git_latency=5.0))
    dest = tmp_path / "acme"
    first = subprocess.Popen(
        [sys.executable, "-m", "gz_tui", "acme", "--base-url", sim.base_url, "--dest", str(dest), "--no-tui"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        lock = dest / ".gz-tui" / "lock"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (lock.exists() and lock.read_text().strip()):
            time.sleep(0.02)
        second = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest))
        assert_one_line_error(second, 2, f"PID {first.pid}", "already")
    finally:
        first.terminate()
        first.wait(timeout=20)


def run_with_closed_stdout(*args: str) -> subprocess.CompletedProcess[str]:
    """``gz-tui ARGS | head -0``: the reader of stdout is gone before gz-tui writes a byte."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "gz_tui", *args], check=False, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(write_end)


def test_json_into_a_closed_pipe_stops_the_run_saved_with_one_line(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=40)
    dest = tmp_path / "acme"
    result = run_with_closed_stdout("acme", "--base-url", sim.base_url, "--dest", str(dest), "--json")
    assert result.returncode == 130
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr
    assert "gz-tui: the output pipe was closed; stopping (state saved; to resume: gz-tui acme --base-url " in result.stderr
    again = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout.splitlines()[0])["event"] == "resume"
    assert repo_dirs(dest) == set(sim.repo_names())


@pytest.mark.parametrize("args", [["config", "show"], ["--help"], ["status", "."]])
def test_small_commands_into_a_closed_pipe_exit_quietly(args: list[str], forge_factory: Any, tmp_path: Path) -> None:
    if args[0] == "status":
        sim = forge_factory(org="acme", repos=2)
        assert run_cli("acme", "--base-url", sim.base_url, "--dest", str(tmp_path)).returncode == 0
        args = ["status", str(tmp_path)]
    result = run_with_closed_stdout(*args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_headless_names_each_failure_on_stderr_and_exits_1(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=6, scenario=Scenario(hostile=True))
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(tmp_path / "acme"), "--no-tui", env={"NO_COLOR": "1"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    failures = [line for line in result.stderr.splitlines() if line.startswith("failed ")]
    assert failures and all(": unsafe: " in line and line.endswith("(after 1 attempt)") for line in failures)
    assert "acme/userinfo: unsafe: refusing clone URL with embedded credentials" in result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("cloned ") and f"failed {len(failures)}" in summary


def test_headless_progress_shows_the_forge_total_only_while_it_is_ahead() -> None:
    import io
    from dataclasses import replace

    from gz_tui.headless import HeadlessReporter
    from gz_tui.tui import demo_data

    snap = demo_data.mid_run()

    def line(listed: int, total: int) -> str:
        err = io.StringIO()
        reporter = HeadlessReporter(json_mode=False, out=io.StringIO(), err=err, color=False)
        reporter.progress(replace(snap, counts=replace(snap.counts, listed=listed, total=total)))
        return err.getvalue()

    assert "(2,104 total)" in line(1_500, 2_104)
    # GitHub's org total leaves out private repos for non-members: 300 listed of "240" would be nonsense.
    assert "total" not in line(300, 240) and "/300 done" in line(300, 240)
