"""Credentials that fight back (issue 26, items 1–4): token helpers that hang or leave children behind, tokens with odd
bytes, token files that are no plain files, a GitHub App whose token minting fails mid-run.

Real processes throughout: a real hanging helper script (with small limits), a real FIFO, the real embedded forge.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gz_tui.forge_sim import GitHubApp, Scenario
from gz_tui.forges.http import RetryPolicy
from tests.conftest import run_cli
from tests.helpers import repo_dirs, run_pipeline, settings_for

TOKEN = "hostile-token-0123456789abcdef"


def write_private(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    path.chmod(0o600)
    return path


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody reaped counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] != "Z"


def wait_for(predicate: Any, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def helper_script(tmp_path: Path, body: str) -> str:
    """A token command (a Python script) that first writes its pid and its child's into ``pids``, then runs ``body``.
    The child sleeps, holding stdout and stderr (inherited)."""
    script = tmp_path / "helper.py"
    pids = tmp_path / "pids"
    script.write_text(
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n" + body
    )
    return f"{sys.executable} {script}"


def helper_pids(tmp_path: Path) -> list[int]:
    text = (tmp_path / "pids").read_text() if (tmp_path / "pids").exists() else ""
    return [int(p) for p in text.split()]


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gz_tui", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# --------------------------------------------------------------------------- 1. a token command that hangs


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_while_a_token_command_hangs_ends_the_run_at_once(tmp_path: Path, signum: int) -> None:
    command = helper_script(tmp_path, "time.sleep(600)\n")
    cli = start_cli("acme", "--dest", str(tmp_path / "d"), "--token-cmd", command, "--token-cmd-timeout", "120")
    try:
        assert wait_for(lambda: len(helper_pids(tmp_path)) == 2), "the helper never started"
        started = time.monotonic()
        cli.send_signal(signum)
        _, stderr = cli.communicate(timeout=10)
        took = time.monotonic() - started
    finally:
        cli.kill()
    assert cli.returncode == 130, stderr
    assert took < 3, took
    assert stderr == "gz-tui: interrupted\n"
    assert wait_for(lambda: not any(alive(pid) for pid in helper_pids(tmp_path)), 5), "a helper outlived gz-tui"


def test_a_token_command_over_its_limit_is_stopped_with_its_children(tmp_path: Path) -> None:
    command = helper_script(tmp_path, "time.sleep(600)\n")
    started = time.monotonic()
    result = run_cli("acme", "--dest", str(tmp_path / "d"), "--token-cmd", command, "--token-cmd-timeout", "1", timeout=30)
    took = time.monotonic() - started
    assert result.returncode == 2
    assert "printed no token within 1 s (token_cmd_timeout); it was stopped" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert took < 8, took
    assert helper_pids(tmp_path) and not any(alive(pid) for pid in helper_pids(tmp_path))


def test_the_limit_is_a_setting_of_the_config_file_too(tmp_path: Path) -> None:
    command = helper_script(tmp_path, "time.sleep(600)\n")
    Path(os.environ["GZ_TUI_CONFIG"]).write_text("[defaults]\ntoken_cmd_timeout = 1\n")
    result = run_cli("acme", "--dest", str(tmp_path / "d"), "--token-cmd", command, timeout=30)
    assert result.returncode == 2 and "within 1 s (token_cmd_timeout)" in result.stderr


def test_a_token_command_whose_child_keeps_stdout_open_is_not_waited_for(forge_factory: Any, tmp_path: Path) -> None:
    """`echo TOKEN; sleep 600 &`: the command is done when it exits; its child is not waited for, and is killed."""
    sim = forge_factory(org="acme", repos=2, token=TOKEN)
    command = helper_script(tmp_path, f"print({TOKEN!r}, flush=True)\n")
    dest = tmp_path / "dest"
    started = time.monotonic()
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--token-cmd", command, "--token-cmd-timeout", "60")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert took < 20, took
    assert repo_dirs(dest) == set(sim.repo_names())
    assert not any(alive(pid) for pid in helper_pids(tmp_path))


def test_an_interrupt_while_the_token_command_runs_again_mid_run_ends_the_run_at_once(forge_factory: Any, tmp_path: Path) -> None:
    """The forge refuses the first token; the command, run again, hangs: SIGTERM ends the run at once (130), the
    helper and its child killed."""
    sim = forge_factory(org="acme", repos=2, token=TOKEN)
    counter = tmp_path / "runs"
    script = tmp_path / "again.py"
    script.write_text(
        "import os, subprocess, sys, time\nfrom pathlib import Path\n"
        f"p = Path({str(counter)!r})\nn = int(p.read_text()) if p.exists() else 0\np.write_text(str(n + 1))\n"
        "if n == 0:\n    print('stale-token-123456')\n    sys.exit(0)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(tmp_path / 'pids')!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\ntime.sleep(600)\n"
    )
    cli = start_cli(
        "acme",
        "--base-url",
        sim.base_url,
        "--dest",
        str(tmp_path / "d"),
        "--token-cmd",
        f"{sys.executable} {script}",
        "--token-cmd-timeout",
        "120",
    )
    try:
        assert wait_for(lambda: len(helper_pids(tmp_path)) == 2), "the command was not run again"
        started = time.monotonic()
        cli.send_signal(signal.SIGTERM)
        _, stderr = cli.communicate(timeout=15)
        took = time.monotonic() - started
    finally:
        cli.kill()
    assert cli.returncode == 130, stderr
    assert took < 3, took
    assert "Traceback" not in stderr
    assert wait_for(lambda: not any(alive(pid) for pid in helper_pids(tmp_path)), 5), "a helper outlived gz-tui"


def test_help_says_the_token_command_limit() -> None:
    result = run_cli("--help")
    described = " ".join(result.stdout.split("--token-cmd-timeout SECONDS\n")[1].split()[:25])
    assert "how long a token command may take before it is stopped" in described and "(default 60)" in described


# --------------------------------------------------------------------------- 2. tokens with odd bytes


def token_printer(tmp_path: Path, raw: bytes) -> str:
    script = tmp_path / "printer.py"
    script.write_text(f"import sys\nsys.stdout.buffer.write({raw!r})\n")
    return f"{sys.executable} {script}"


@pytest.mark.parametrize(
    "source, raw, said",
    [
        ("flag", "tök-1234567890".encode(), "a non-ASCII character (U+00F6)"),
        ("env", b"tok\x01-1234567890", "a control character (U+0001)"),
        ("env", "tok\u00a0-1234567890".encode(), "a space (U+00A0)"),
        ("cmd", "tök-1234567890\n".encode(), "a non-ASCII character (U+00F6)"),
        ("cmd", b"tok\x00-1234567890\n", "a control character (U+0000)"),
        ("cmd", b"tok\x1b[31m-1234567890\n", "a control character (U+001B)"),
        ("file", b"tok\x00-1234567890\n", "a control character (U+0000)"),
        ("file", "tök-1234567890\n".encode(), "a non-ASCII character (U+00F6)"),
        ("file", "tök".encode("latin-1"), "not a text file"),
        ("config", "tök-1234567890".encode(), "a non-ASCII character (U+00F6)"),
    ],
)
def test_a_token_with_odd_bytes_is_one_line_and_exit_2_from_any_source(tmp_path: Path, source: str, raw: bytes, said: str) -> None:
    """Before any request is made: no traceback, no retries (a closed port would show them as waits)."""
    base_url = "http://127.0.0.1:9/api/v3"  # nothing listens: a request would be an error line of its own
    args = ["acme", "--dest", str(tmp_path / "d")]
    env: dict[str, str] = {}
    if source == "flag":
        args += ["--token", raw.decode()]
    elif source == "env":
        env["GH_TOKEN"] = raw.decode()
    elif source == "cmd":
        args += ["--token-cmd", token_printer(tmp_path, raw)]
    elif source == "file":
        args += ["--token-file", str(write_private(tmp_path / "token", raw))]
    else:
        config = write_private(Path(os.environ["GZ_TUI_CONFIG"]), f'[profiles.github]\nprovider = "github"\ntoken = "{raw.decode()}"\n')
        config.write_text(config.read_text() + f'base_url = "{base_url}"\n')
    if source != "config":
        args += ["--base-url", base_url]
    started = time.monotonic()
    result = run_cli(*args, env=env, timeout=30)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "1234567890" not in result.stderr  # the token is never quoted
    assert time.monotonic() - started < 10
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("source", ["file", "env", "cmd"])
def test_a_byte_order_mark_before_the_token_is_dropped(forge_factory: Any, tmp_path: Path, source: str) -> None:
    """A token file saved by a Windows editor starts with a UTF-8 BOM: it is not part of the token."""
    sim = forge_factory(org="acme", repos=2, token=TOKEN)
    raw = b"\xef\xbb\xbf" + TOKEN.encode() + b"\r\n"
    args = ["acme", "--base-url", sim.base_url, "--dest", str(tmp_path / "dest")]
    env: dict[str, str] = {}
    if source == "file":
        args += ["--token-file", str(write_private(tmp_path / "token", raw))]
    elif source == "cmd":
        args += ["--token-cmd", token_printer(tmp_path, raw)]
    else:
        env["GH_TOKEN"] = raw.decode()
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert repo_dirs(tmp_path / "dest") == set(sim.repo_names())


# --------------------------------------------------------------------------- 3. token files that are no plain files


def test_a_fifo_as_token_file_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "token"
    os.mkfifo(fifo, 0o600)
    started = time.monotonic()
    result = run_cli("acme", "--dest", str(tmp_path / "d"), "--token-file", str(fifo), timeout=30)
    assert result.returncode == 2
    assert f"--token-file {fifo} is a named pipe (FIFO), not a regular file" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert time.monotonic() - started < 10


def test_a_fifo_as_token_file_in_the_config_is_refused_too(tmp_path: Path) -> None:
    fifo = tmp_path / "token"
    os.mkfifo(fifo, 0o600)
    Path(os.environ["GZ_TUI_CONFIG"]).write_text(f'[profiles.github]\nprovider = "github"\ntoken_file = "{fifo}"\n')
    result = run_cli("acme", "--dest", str(tmp_path / "d"), timeout=30)
    assert result.returncode == 2 and "named pipe (FIFO)" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("what", ["directory", "device"])
def test_other_non_files_are_refused(tmp_path: Path, what: str) -> None:
    path = tmp_path / "dir" if what == "directory" else Path("/dev/zero")
    if what == "directory":
        path.mkdir(mode=0o700)
    result = run_cli("acme", "--dest", str(tmp_path / "d"), "--token-file", str(path), timeout=30)
    assert result.returncode == 2 and f"is a {what}, not a regular file" in result.stderr, result.stderr


def test_a_huge_one_word_token_file_is_refused_quickly(tmp_path: Path) -> None:
    token_file = write_private(tmp_path / "token", b"a" * 1_000_000)
    started = time.monotonic()
    result = run_cli("acme", "--dest", str(tmp_path / "d"), "--token-file", str(token_file), timeout=30)
    assert result.returncode == 2
    assert "holds more than 16,384 bytes" in result.stderr and result.stderr.count("\n") == 1
    assert "aaaa" not in result.stderr
    assert time.monotonic() - started < 5


def test_a_token_command_that_prints_a_flood_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "flood.py"
    script.write_text("import sys\nwhile True:\n    sys.stdout.write('a' * 65536)\n")
    result = run_cli("acme", "--dest", str(tmp_path / "d"), "--token-cmd", f"{sys.executable} {script}", timeout=30)
    assert result.returncode == 2
    assert "printed more than 16,384 bytes" in result.stderr and result.stderr.count("\n") == 1


# --------------------------------------------------------------------------- 4. GitHub App minting that fails mid-run


APP_ID = 262626


@pytest.fixture(scope="module")
def app_keys() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def failing_app_run(
    forge_factory: Any, tmp_path: Path, app_keys: tuple[bytes, bytes], failure: int | str
) -> tuple[Any, Path, int, list[dict[str, Any]], float]:
    """200 repos, git slowed so the run outlives its first installation token (12 s, counted as 10 or 11 since GitHub
    states expires_at and Date in whole seconds; refreshed once a third of that is left, so the token of now is good
    for about 3 s after minting began to fail: long enough for a loaded machine to send git requests with it); the
    forge mints that one token, then every mint fails as ``failure`` says."""
    private, public = app_keys
    app = GitHubApp(app_id=APP_ID, public_key=public, token_lifetime=12.0)
    scenario = Scenario(git_latency=0.1, app_mints_before_failure=1, app_mint_failure=failure)  # type: ignore[arg-type]
    sim = forge_factory(org="acme", repos=200, token="not-known-to-gz-tui", github_app=app, scenario=scenario)
    key = write_private(tmp_path / "app.pem", private)
    dest = tmp_path / "dest"
    settings = settings_for(sim, dest, github_app_id=APP_ID, github_app_key=key, workers=2, buffer=250, outage_limit=2)
    policy = RetryPolicy(transient_attempts=2, backoff_base=0.2, backoff_cap=1.0, request_timeout=0.5, connect_timeout=0.5)
    started = time.monotonic()
    code, _, events = run_pipeline(settings, policy=policy, git_backoff=0.05)
    return sim, dest, code, events, time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("failure", [500, "hang"], ids=["mint-500", "mint-hangs"])
def test_a_github_app_whose_minting_fails_mid_run_stops_cleanly_and_resumes(
    forge_factory: Any, tmp_path: Path, app_keys: tuple[bytes, bytes], failure: int | str
) -> None:
    sim, dest, code, events, took = failing_app_run(forge_factory, tmp_path, app_keys, failure)
    requests = sim.requests()
    mints = [i for i, r in enumerate(requests) if r.method == "POST" and r.path.endswith("/access_tokens")]
    failed_mints = [i for i in mints if requests[i].status != 201]

    # The run stopped by itself, in one line, with nothing failed: the unfinished repos are pending.
    assert code == 1, [e for e in events if e["event"] in ("repo_failed", "listing_failed", "error")]
    assert not [e for e in events if e["event"] == "repo_failed"]
    summary = next(e for e in events if e["event"] == "summary")
    assert "no valid installation token of GitHub App" in summary["message"] and "run again to resume" in summary["message"]
    cloned = repo_dirs(dest)
    assert 0 < len(cloned) < 200
    assert took < 60, took  # by itself: the token's 12 s, then the outage limit and one backoff; not the default 600 s

    # The current token was used until it expired: repos were cloned with it after minting had begun to fail.
    assert failed_mints, "minting never failed"
    assert any(r.kind == "git" and r.credential == "installation:1" for r in requests[failed_mints[0] :])
    assert not [r for r in requests if r.credential.startswith("expired")]
    # One refresh at a time, on a backoff: a handful of mint requests, not one per waiting repo.
    assert 2 <= len(mints) <= 12, len(mints)

    if failure == "hang":
        return
    # Minting works again: the next run resumes and finishes the rest.
    sim.scenario.app_mints_before_failure = None
    sim.scenario.git_latency = 0.0  # what is left is cloned at full speed: the resume is what this part shows
    key = tmp_path / "app.pem"
    again = settings_for(sim, dest, github_app_id=APP_ID, github_app_key=key, workers=8, buffer=250)
    code, _, events = run_pipeline(again, policy=RetryPolicy(backoff_base=0.05))
    assert code == 0, [e for e in events if e["event"] == "repo_failed"]
    assert any(e["event"] == "resume" for e in events)
    assert repo_dirs(dest) == set(sim.repo_names())


def test_installation_tokens_that_arrive_expired_are_retried_on_a_backoff_not_minted_in_a_loop(
    forge_factory: Any, tmp_path: Path, app_keys: tuple[bytes, bytes]
) -> None:
    """A token GitHub says has expired already (a forge whose tokens live 0 s; before, a clock read against another):
    minting it again at once would loop for ever. It is a failed mint, retried on the backoff until the outage limit,
    then a clean stop with the repos pending."""
    private, public = app_keys
    sim = forge_factory(org="acme", repos=5, token="not-known", github_app=GitHubApp(app_id=APP_ID, public_key=public, token_lifetime=0.0))
    key = write_private(tmp_path / "app.pem", private)
    settings = settings_for(sim, tmp_path / "dest", github_app_id=APP_ID, github_app_key=key, outage_limit=2)
    code, _, events = run_pipeline(settings, policy=RetryPolicy(backoff_base=0.2, backoff_cap=1.0))
    assert code == 1
    summary = next(e for e in events if e["event"] == "summary")
    assert "has expired already" in summary["message"] and "run again to resume" in summary["message"]
    assert 2 <= sim.app_token_requests() <= 8
    assert repo_dirs(tmp_path / "dest") == set()


class BehindClock:
    """The forge's clock, ``behind`` seconds behind this machine's (real time otherwise)."""

    def __init__(self, behind: float) -> None:
        self.behind = behind

    def now(self) -> float:
        return time.time() - self.behind

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        import anyio

        await anyio.sleep(max(0.0, seconds))


def test_token_expiry_is_read_against_the_forges_own_date(forge_factory: Any, tmp_path: Path, app_keys: tuple[bytes, bytes]) -> None:
    """GitHub's expires_at is on GitHub's clock. With the forge's 30 s behind ours, a token of 20 s would look expired
    on arrival; read against the answer's Date it lives its 20 s here, and the run needs one token."""
    private, public = app_keys
    app = GitHubApp(app_id=APP_ID, public_key=public, token_lifetime=20.0)
    sim = forge_factory(org="acme", repos=8, token="not-known", github_app=app, clock=BehindClock(30.0))
    key = write_private(tmp_path / "app.pem", private)
    code, _, events = run_pipeline(settings_for(sim, tmp_path / "dest", github_app_id=APP_ID, github_app_key=key))
    assert code == 0, next(e for e in events if e["event"] == "summary")
    assert repo_dirs(tmp_path / "dest") == set(sim.repo_names())
    assert sim.app_token_requests() == 1


def test_the_embedded_forge_mints_n_app_tokens_then_fails(tmp_path: Path, app_keys: tuple[bytes, bytes]) -> None:
    import httpx
    import jwt

    from gz_tui.forge_sim import ForgeSim
    from gz_tui.forge_sim.__main__ import build_parser, scenario_from

    private, public = app_keys
    parsed = scenario_from(build_parser().parse_args(["--app-mints-before-failure", "2", "--app-mint-failure", "hang"]))
    assert (parsed.app_mints_before_failure, parsed.app_mint_failure) == (2, "hang")
    app = GitHubApp(app_id=APP_ID, public_key=public)
    with ForgeSim(
        tmp_path, repos=2, token="not-known", github_app=app, scenario=Scenario(app_mints_before_failure=2, app_mint_failure=503)
    ) as sim:
        now = int(time.time())
        signed = jwt.encode({"iat": now - 60, "exp": now + 540, "iss": str(APP_ID)}, private, algorithm="RS256")
        url = f"{sim.base_url}/app/installations/{app.installation_id}/access_tokens"
        statuses = [httpx.post(url, headers={"Authorization": f"Bearer {signed}"}).status_code for _ in range(4)]
        assert statuses == [201, 201, 503, 503] and sim.app_token_requests() == 4


@pytest.mark.parametrize("token, said", [("tok\x00en-123456789", "a control character (U+0000)"), ("tök-123456789", "(U+00F6)")])
def test_a_token_that_reaches_the_api_client_unchecked_is_refused_not_retried(forge_factory: Any, token: str, said: str) -> None:
    """Settings built by code skip the command line's checks: the client still refuses at once, without a retry."""
    import anyio

    from gz_tui.forges.errors import AuthError
    from gz_tui.forges.http import ApiClient
    from gz_tui.forges.registry import make_provider

    sim = forge_factory(org="acme", repos=1)

    async def list_once() -> None:
        async with ApiClient(make_provider("github", sim.base_url, "acme"), sim.base_url, token) as client:
            await client.get(f"{sim.base_url}/orgs/acme/repos")

    started = time.monotonic()
    with pytest.raises(AuthError, match=re.escape(said)):
        anyio.run(list_once)
    assert time.monotonic() - started < 2 and sim.requests() == []
