"""The token reaches git only through GIT_CONFIG_* in the environment; git's errors are classified."""

from __future__ import annotations

import base64
import os
from collections import deque
from pathlib import Path

import anyio

from gz_tui.forges.github import GitHub
from gz_tui.forges.registry import TOKEN_ENV_VARS, git_origin
from gz_tui.kinds import ErrorClass
from gz_tui.pipeline.git import (
    GitRunner,
    classify,
    git_environment,
    summarize,
)
from gz_tui.pipeline.git.runner import ProgressReporter
from gz_tui.pipeline.outage import says_unreachable

TOKEN = "ghp_RawTokenInTheEnvironment0123"


def test_token_goes_only_into_a_scoped_extra_header() -> None:
    header = GitHub.git_auth_header("s3cret")
    env = git_environment(
        base={"PATH": "/usr/bin"}, protocol="https", allow_http=False, auth_origin="https://github.com/", auth_header=header
    )
    count = int(env["GIT_CONFIG_COUNT"])
    pairs = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(count)}
    value = pairs["http.https://github.com/.extraHeader"]
    assert base64.b64decode(value.split()[-1]).decode() == "x-access-token:s3cret"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_ALLOW_PROTOCOL"] == "https"
    assert pairs["credential.helper"] == ""
    assert pairs["http.followRedirects"] == "false"


def test_inherited_git_config_variables_are_dropped() -> None:
    env = git_environment(
        base={"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.sshCommand", "GIT_CONFIG_VALUE_0": "evil"},
        protocol="https",
        allow_http=True,
    )
    keys = [env[f"GIT_CONFIG_KEY_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))]
    assert "core.sshCommand" not in keys
    assert env["GIT_ALLOW_PROTOCOL"] == "http:https"


def test_variables_that_choose_config_files_are_kept() -> None:
    env = git_environment(
        base={"GIT_CONFIG_GLOBAL": "/tmp/g", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_PARAMETERS": "'x.y'='z'"},
        protocol="https",
        allow_http=False,
    )
    assert env["GIT_CONFIG_GLOBAL"] == "/tmp/g" and env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert "GIT_CONFIG_PARAMETERS" not in env


def test_git_origin_for_github_and_enterprise() -> None:
    assert git_origin("github", "https://api.github.com") == "https://github.com/"
    assert git_origin("github", "https://ghe.example.com/api/v3") == "https://ghe.example.com/"


def test_classification_of_common_git_failures() -> None:
    assert classify("fatal: could not read Username for 'https://x': terminal prompts disabled") == "auth"
    assert classify("remote: Repository not found.\nfatal: repository 'https://x/' not found") == "not_found"
    assert classify("error: RPC failed; HTTP 429 curl 22 The requested URL returned error: 429") == "throttled"
    assert classify("fatal: the remote end hung up unexpectedly") == "network"
    # A forge that goes away while curl connects (seen in CI: errno 107, ENOTCONN): the network, and the forge not there.
    gone = "fatal: unable to access 'https://x/': getpeername() failed with errno 107: Transport endpoint is not connected"
    assert classify(gone) == "network" and says_unreachable(gone)
    assert classify("fatal: could not create work tree dir 'x': No space left on device") == "disk"
    assert classify("fatal: fetch-pack: invalid index-pack output") == "disk"  # index-pack died writing on a full disk


def test_the_cause_git_names_first_in_priority_wins_over_the_errors_it_causes() -> None:
    # A full disk makes the transfer fail too; a 429 comes with a hung-up connection: neither is retried as a network blip.
    assert classify("error: RPC failed; curl 56 Recv failure\nfatal: write error: No space left on device") is ErrorClass.DISK
    assert classify("error: RPC failed; HTTP 429\nfatal: the remote end hung up unexpectedly") is ErrorClass.THROTTLED
    assert classify("fatal: Not possible to fast-forward, aborting.") is ErrorClass.CONFLICT
    assert classify("fatal: operation not allowed here") is ErrorClass.OTHER  # "not allowed" alone is no refused transport
    assert classify("something git has never said") is ErrorClass.OTHER


def test_a_transport_the_environment_does_not_allow_is_refused_and_not_retried(tmp_path: Path) -> None:
    runner = GitRunner(git_environment(base=os.environ, protocol="https", allow_http=False))

    result = anyio.run(lambda: runner.run(["clone", "--", f"file://{tmp_path / 'elsewhere.git'}", str(tmp_path / "clone")]))

    assert not result.ok and result.error_class is ErrorClass.REFUSED and not result.transient
    assert result.message == "fatal: transport 'file' not allowed"
    assert not (tmp_path / "clone").exists()


def test_progress_tells_each_phase_as_it_begins_and_the_last_line_at_the_end() -> None:
    heard: list[tuple[str, float | None, int]] = []
    reporter = ProgressReporter(lambda phase, percent, received: heard.append((phase, percent, received)))
    tail: deque[str] = deque()
    received = 0
    lines = [
        "remote: Counting objects: 100% (3/3), done.",
        *(f"Receiving objects:  {n}% ({n}/100), {n / 10:.2f} MiB | 1.00 MiB/s" for n in range(1, 101)),
        "Resolving deltas:  40% (2/5)",
        "Resolving deltas: 100% (5/5), done.",
        "fatal: early EOF",
    ]
    for line in lines:
        received = reporter.line(line, received, tail)
    reporter.flush()

    phases = [phase for phase, _, _ in heard]
    assert phases[0] == "counting objects" and phases.index("receiving objects") < phases.index("resolving deltas")
    assert heard[phases.index("receiving objects")] == ("receiving objects", 1.0, 104857)
    assert heard[-1] == ("resolving deltas", 100.0, 10 * 1024**2)  # the bytes add up to what git received
    assert received == 10 * 1024**2 and list(tail) == ["fatal: early EOF"]


def test_summary_prefers_fatal_line_strips_escapes_and_redacts() -> None:
    lines = ["Cloning into 'x'...", "fatal: \x1b[31mauth failed for tok123\x1b[0m", "trailing"]
    assert summarize(lines, ["tok123"]) == "fatal: auth failed for ***"


def test_summary_drops_c1_escapes_and_shows_other_controls_literally_on_one_line() -> None:
    assert summarize(["remote: \x9b2J\u202eevil\tline\x00"], []) == "remote: \\u202eevil line\\x00"


def test_token_variables_never_reach_git() -> None:
    known = [name for names in TOKEN_ENV_VARS.values() for name in names]
    assert {"GH_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN", "GITEA_TOKEN"} <= set(known)
    base = {"PATH": "/usr/bin", "HOME": "/home/me", "WORK_FORGE_TOKEN": TOKEN, **{name: TOKEN for name in known}}
    header = GitHub.git_auth_header(TOKEN)

    env = git_environment(
        base=base,
        protocol="https",
        allow_http=False,
        auth_origin="https://github.com/",
        auth_header=header,
        strip_vars=["WORK_FORGE_TOKEN"],
    )

    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/home/me"
    assert not set(known) & set(env) and "WORK_FORGE_TOKEN" not in env
    assert not [name for name, value in env.items() if TOKEN in value]  # only its base64, in the scoped header
    assert header in env.values()


def test_git_runner_drops_any_variable_holding_the_token_raw(tmp_path: Path) -> None:
    """A profile's token_env is a name gz-tui cannot list in advance: the runner drops variables by value."""
    dump = tmp_path / "env"
    fake_git = tmp_path / "git"
    fake_git.write_text(f"#!/bin/sh\ncat /proc/$$/environ > '{dump}'\n")
    fake_git.chmod(0o755)
    env = {**os.environ, "WORK_FORGE_TOKEN": TOKEN, "PADDED_TOKEN": f" {TOKEN}\n", "KEPT": "value"}
    runner = GitRunner(env, secrets=[TOKEN], git=str(fake_git))

    result = anyio.run(lambda: runner.run(["--version"]))

    assert result.ok
    seen = dict(item.split("=", 1) for item in dump.read_text().split("\0") if "=" in item)
    assert "WORK_FORGE_TOKEN" not in seen and "PADDED_TOKEN" not in seen and seen["KEPT"] == "value"
    assert TOKEN not in dump.read_text()
