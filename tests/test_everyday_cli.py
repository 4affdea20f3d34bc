"""The command line as people type it (issue 28): owners pasted as URLs or with a trailing ``/``, typos of commands
and flags, missing or misplaced credentials, Ctrl+C in a cron job, prune refusals a script can test, and
``gz-tui status`` telling what the last run did."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gz_tui.forge_sim import Scenario
from gz_tui.owners import Owner, OwnerError, read_owner
from tests.conftest import run_cli
from tests.helpers import interrupt_when, repo_dirs

TOKEN = "glpat-s3cretTOKENvalue1234567890"


def one_line(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The one line of stderr of a refused command line (never a traceback)."""
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- 11. owners as typed --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("apache/", Owner("apache")),
        ("https://github.com/apache", Owner("apache", "github", "https://api.github.com")),
        ("https://github.com/apache/", Owner("apache", "github", "https://api.github.com")),
        ("https://gitlab.com/gitlab-org/security/-/tree/main", Owner("gitlab-org/security", "gitlab", "https://gitlab.com")),
        ("https://codeberg.org/forgejo", Owner("forgejo", "gitea", "https://codeberg.org")),
        ("https://bitbucket.org/atlassian", Owner("atlassian", "bitbucket", "https://api.bitbucket.org")),
        ("https://git.sr.ht/~sircmpwn", Owner("~sircmpwn", "sourcehut", "https://git.sr.ht")),
    ],
)
def test_an_owner_pasted_from_the_browser_names_its_forge(typed: str, expected: Owner) -> None:
    assert read_owner(typed, provider=None, base_url=None) == expected


def test_a_self_hosted_forge_url_with_provider_names_the_server_root() -> None:
    assert read_owner("https://ghe.corp/acme", provider="github", base_url=None) == Owner("acme", "github", "https://ghe.corp/api/v3")
    with pytest.raises(OwnerError, match="another host"):
        read_owner("https://ghe.corp/acme", provider="github", base_url="https://other.corp/api/v3")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["https://gitlab.example.com/group/sub"],
            ["did you mean: gz-tui --provider gitlab --base-url https://gitlab.example.com group/sub"],
        ),
        (["https://git.example.com/acme/"], ["did you mean: gz-tui --provider PROVIDER --base-url https://git.example.com acme"]),
        (["https://github.com/apache", "--provider", "gitlab"], ["github forge", "--provider gitlab"]),
        (["https://github.com/apache/kafka"], ["repository apache/kafka", "gz-tui apache"]),
    ],
)
def test_an_owner_url_that_cannot_be_followed_says_what_to_type(args: list[str], words: list[str], tmp_path: Path) -> None:
    line = one_line(run_cli(*args, "--dest", str(tmp_path / "d")))
    for word in words:
        assert word in line
    assert not (tmp_path / "d").exists()


def test_an_owner_url_with_its_provider_syncs_that_owner(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=3)
    result = run_cli(f"{sim.base_url}/acme/", "--provider", "gitea", "--dest", str(tmp_path / "d"), "--json")
    assert result.returncode == 0, result.stderr
    assert len(repo_dirs(tmp_path / "d")) == 3
    assert any("/api/v1/" in request.path for request in sim.api_requests())


def test_a_trailing_slash_is_dropped_from_an_owner(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2)
    result = run_cli("acme/", "--base-url", sim.base_url, "--dest", str(tmp_path / "d"), "--json")
    assert result.returncode == 0, result.stderr
    assert len(repo_dirs(tmp_path / "d")) == 2


@pytest.mark.parametrize(("typed", "meant"), [("statsu", "status"), ("synk", "sync"), ("confg", "config")])
def test_a_near_miss_of_a_command_word_asks_instead_of_reaching_out(typed: str, meant: str, tmp_path: Path) -> None:
    # The base URL is a port nothing listens on: had gz-tui reached out, the error would be "cannot reach".
    line = one_line(run_cli(typed, "--base-url", "http://127.0.0.1:9", "--dest", str(tmp_path / "d")))
    assert f"did you mean `gz-tui {meant}`?" in line
    assert f"--owner {typed}" in line


def test_an_owner_named_like_a_near_miss_is_reached_with_the_owner_flag(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="statsu", repos=2)
    for folder, args in (("flag", ["--owner", "statsu"]), ("dashes", ["--", "statsu"])):
        dest = tmp_path / folder
        result = run_cli(*args, "--base-url", sim.base_url, "--dest", str(dest), "--json")
        assert result.returncode == 0, result.stderr
        assert len(repo_dirs(dest)) == 2
    assert run_cli("apache", "statsu", "--base-url", "http://127.0.0.1:9").returncode == 2  # a later word is an owner
    assert "did you mean" not in run_cli("apache", "statsu", "--base-url", "http://127.0.0.1:9").stderr


# -- 12. flags ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["acme", "--worker", "4"], "unknown option --worker; did you mean --workers?"),
        (["acme", "--worker=4"], "unknown option --worker; did you mean --workers?"),
        (["acme", "--dry"], "unknown option --dry; did you mean --dry-run?"),
        (["sync", "--jsn"], "unknown option --jsn; did you mean --json?"),
        (["status", "--stat", "x"], "unknown option --stat; did you mean --state?"),
    ],
)
def test_an_abbreviated_or_misspelled_flag_is_refused_with_did_you_mean(args: list[str], expected: str, tmp_path: Path) -> None:
    line = one_line(
        run_cli(*args, "--base-url", "http://127.0.0.1:9", "--dest", str(tmp_path / "d")) if args[0] != "status" else run_cli(*args)
    )
    assert line == f"gz-tui: {expected}"


# -- 13. credentials ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("provider", "variable"), [("github", "GH_TOKEN"), ("gitlab", "GITLAB_TOKEN"), ("gitea", "GITEA_TOKEN")])
def test_a_forge_that_wants_a_token_none_was_sent_says_so(forge_factory: Any, tmp_path: Path, provider: str, variable: str) -> None:
    sim = forge_factory(org="acme", repos=2, token=TOKEN)
    result = run_cli("acme", "--provider", provider, "--base-url", sim.api_url(provider), "--dest", str(tmp_path / "d"), "--no-tui")
    line = one_line(result)
    assert "no token was sent" in line and f"set {variable}" in line
    assert "rejected" not in line


def test_a_ghorg_token_variable_that_is_set_gets_a_hint(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2, token=TOKEN)
    args = ("acme", "--provider", "gitlab", "--base-url", sim.base_url, "--dest", str(tmp_path / "d"), "--json")
    result = run_cli(*args, env={"GHORG_GITLAB_TOKEN": TOKEN})
    assert result.returncode == 2
    assert 'gz-tui: GHORG_GITLAB_TOKEN is set; gz-tui reads GITLAB_TOKEN (export GITLAB_TOKEN="$GHORG_GITLAB_TOKEN")' in result.stderr
    assert TOKEN not in result.stderr + result.stdout
    # With a token of its own, nothing to hint at.
    assert "GHORG" not in run_cli(*args, env={"GHORG_GITLAB_TOKEN": TOKEN, "GITLAB_TOKEN": TOKEN}).stderr


def test_the_github_60_requests_notice_is_for_github_com_only(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2)  # a GitHub Enterprise server that serves anonymous listings
    result = run_cli("acme", "--base-url", f"{sim.base_url}/api/v3", "--dest", str(tmp_path / "d"), "--no-tui")
    assert result.returncode == 0, result.stderr
    assert "60 API requests" not in result.stderr


def test_a_profile_nobody_named_is_named_on_stderr_with_the_reason(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2)
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.lab]\nprovider = "gitlab"\nbase_url = "{sim.base_url}"\nworkers = 2\n')
    config.chmod(0o600)
    env = {"GZ_TUI_CONFIG": str(config)}
    chosen = run_cli("acme", "--provider", "gitlab", "--dest", str(tmp_path / "d"), "--no-tui", env=env)
    assert chosen.returncode == 0, chosen.stderr
    assert "gz-tui: using [profiles.lab]: it matches --provider gitlab\n" in chosen.stderr
    assert len(repo_dirs(tmp_path / "d")) == 2  # the profile's base URL was the one used
    named = run_cli("acme", "--profile", "lab", "--dest", str(tmp_path / "d"), "--no-tui", env=env)
    assert named.returncode == 0, named.stderr
    assert "using [profiles" not in named.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--provider", "gitlab", "--base-url", "https://git.example.com/api/v3"],
            "a github API root, not gitlab's: did you mean --provider github, or --base-url https://git.example.com?",
        ),
        (
            ["--base-url", "https://git.example.com/api/v4"],
            "a gitlab API root, not github's: did you mean --provider gitlab, or --base-url https://git.example.com/api/v3?",
        ),
    ],
)
def test_a_base_url_of_another_forge_says_so(args: list[str], expected: str, tmp_path: Path) -> None:
    line = one_line(run_cli("acme", *args, "--dest", str(tmp_path / "d")))
    assert expected in line


# -- 10. Ctrl+C headless --------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["--no-tui", "--json"])
def test_headless_ctrl_c_says_it_was_interrupted_and_the_command_that_resumes(forge_factory: Any, tmp_path: Path, mode: str) -> None:
    sim = forge_factory(org="acme", repos=12, token=TOKEN, scenario=Scenario(git_latency=0.2))
    dest = tmp_path / "acme"
    typed = ["acme", "--base-url", sim.base_url, "--dest", str(dest), "--workers", "2", mode, "--token", TOKEN]
    process = subprocess.Popen([sys.executable, "-m", "gz_tui", *typed], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = interrupt_when(process, lambda: len(repo_dirs(dest)) >= 2)
    assert process.returncode == 130, err
    assert "gz-tui: interrupted (SIGINT); stopping" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("gz-tui: interrupted by SIGINT; to resume: gz-tui acme ")
    assert TOKEN not in err
    # The command said resumes the run (with the token from the environment, as a cron job would hold it).
    resume = shlex.split(last.split("to resume: ", 1)[1])[1:]
    result = run_cli(*resume, env={"GH_TOKEN": TOKEN})
    assert result.returncode == 0, result.stderr
    assert len(repo_dirs(dest)) == 12


# -- 16. prune's refusal --------------------------------------------------------------------------------------


def test_a_prune_over_the_limit_says_one_share_and_the_summary_says_it_was_refused(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=29)
    dest = tmp_path / "acme"
    assert run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest)).returncode == 0
    for name in ("repo-00003", "repo-00007", "repo-00011"):
        sim.remove_repo(name)
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--prune", "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    refused = [e for e in events if e["event"] == "prune_refused"]
    assert [e["reason"] for e in refused] == ["limit"]
    assert "3 of 29 clones, 10.3 %, are no longer listed, more than --prune-limit 10 %" in refused[0]["message"]
    assert events[-1]["event"] == "summary" and events[-1]["prune_refused"] == "limit"
    assert (dest / "repo-00003" / ".git").is_dir()
    text = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--prune")
    assert "prune refused (limit)" in text.stdout
    done = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--prune", "--prune-force", "--json")
    assert "prune_refused" not in json.loads(done.stdout.splitlines()[-1]), "a prune that went through has no refusal"
    assert not (dest / "repo-00003").exists()


# -- 17. gz-tui status ----------------------------------------------------------------------------------------


def test_status_labels_its_times_and_names_the_failed_repos(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=3, scenario=Scenario(hostile=True))  # planted names gz-tui refuses
    dest = tmp_path / "acme"
    assert run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest)).returncode == 1
    text = run_cli("status", str(dest))
    assert text.returncode == 0, text.stderr
    assert re.search(r"^last run #1: finished · started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d · finished \d{4}-", text.stdout, re.M)
    assert "\n  evil-file: unsafe: refusing clone URL 'file:///etc/passwd'" in text.stdout
    assert "\n  ../escape: unsafe: " in text.stdout
    assert "\x1b" not in text.stdout, "a planted name never reaches the terminal as an escape"

    data = json.loads(run_cli("status", str(dest), "--json").stdout)
    assert (data["run"], data["status"], data["pid"], data["owner"]) == (1, "finished", None, "acme")
    assert data["done"]["cloned"] == len([r for r in repo_dirs(dest)])
    assert {
        "path": "evil-file",
        "error_class": "unsafe",
        "message": "refusing clone URL 'file:///etc/passwd': only https is allowed",
    } in data["failed"]
    assert data["started_at"] <= data["finished_at"]

    listing = run_cli("status", str(dest), "--repos").stdout.splitlines()
    assert "repo-00001\tcloned" in listing and "evil-file\tfailed\tunsafe" in listing
    assert len(listing) == data["done"]["cloned"] + data["done"]["failed"]
    rows = json.loads(run_cli("status", str(dest), "--json", "--repos").stdout)["repos"]
    assert {"path": "repo-00002", "status": "cloned"} in rows


@pytest.mark.slow
def test_status_of_a_run_in_progress_names_its_pid_and_a_killed_one_the_command_that_resumes(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=12, scenario=Scenario(git_latency=0.3))
    dest = tmp_path / "acme"
    typed = ["acme", "--base-url", sim.base_url, "--dest", str(dest), "--workers", "1", "--no-tui"]
    process = subprocess.Popen([sys.executable, "-m", "gz_tui", *typed], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(repo_dirs(dest)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        during = run_cli("status", str(dest))
        data = json.loads(run_cli("status", str(dest), "--json").stdout)
        listing = run_cli("status", str(dest), "--repos").stdout.splitlines()
    finally:
        process.kill()
        process.communicate(timeout=10)
    assert f"last run #1: in progress (PID {process.pid}) · started " in during.stdout
    assert f"in progress (PID {process.pid}): gz-tui status again" in during.stdout
    assert "to resume" not in during.stdout
    assert (data["status"], data["pid"], data["finished_at"]) == ("in_progress", process.pid, None)
    assert any(line.endswith("\tpending") for line in listing) and any(line.endswith("\tcloned") for line in listing)

    after = run_cli("status", str(dest))  # killed: its lock went with it
    assert "last run #1: stopped before the end (killed or crashed) · started " in after.stdout and "not finished" in after.stdout
    resume = after.stdout.strip().splitlines()[-1]
    assert resume == f"to resume: gz-tui acme --base-url {sim.base_url} --dest {dest}"
    again = run_cli(*shlex.split(resume.removeprefix("to resume: "))[1:])
    assert again.returncode == 0, again.stderr
    assert "finished" in run_cli("status", str(dest)).stdout.splitlines()[1]


def test_status_of_the_configured_targets_in_json_is_one_object_each(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2)
    config = Path(os.environ["GZ_TUI_CONFIG"])
    config.write_text(
        f'[targets.a]\nowner = "acme"\nbase_url = "{sim.base_url}"\ndest = "{tmp_path / "a"}"\n'
        f'[targets.b]\nowner = "acme"\nbase_url = "{sim.base_url}"\ndest = "{tmp_path / "b"}"\n'
    )
    assert run_cli("sync", "a").returncode == 0
    here = tmp_path / "elsewhere"
    here.mkdir()
    lines = run_cli("status", "--json", cwd=here).stdout.splitlines()
    a, b = (json.loads(line) for line in lines)
    assert (a["target"], a["status"], a["done"]) == ("a", "finished", {"cloned": 2})
    assert (b["target"], b["run"]) == ("b", None)
    listing = run_cli("status", "--repos", cwd=here).stdout.splitlines()
    assert listing[:3] == [f"[targets.a] {tmp_path / 'a'}", "repo-00001\tcloned", "repo-00002\tcloned"]
