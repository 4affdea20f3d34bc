"""Signing in beyond a literal token (issue 18): a GitHub App whose installation tokens outlive their hour, a token
command, a token file. Against the embedded forge (which verifies the app's JWT and refuses expired tokens) and real git.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gz_tui.forge_sim import GitHubApp, Scenario
from tests.conftest import run_cli
from tests.helpers import repo_dirs, run_pipeline, settings_for

APP_ID = 424242
TOKEN = "cmd-token-0123456789abcdef"


def key_pair() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


@pytest.fixture(scope="module")
def app_keys() -> tuple[bytes, bytes]:
    return key_pair()


def write_private(path: Path, data: bytes | str, mode: int = 0o600) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    path.chmod(mode)
    return path


# --------------------------------------------------------------------------- GitHub App


@pytest.mark.slow
def test_a_github_app_run_outlives_several_installation_tokens(forge_factory: Any, tmp_path: Path, app_keys: tuple[bytes, bytes]) -> None:
    """300 repos, installation tokens that live 6 s (GitHub: an hour; the issue asks for 20 s — shortened so the suite
    passes several expiries in a ~15 s run), git slowed: every repo cloned, several refreshes, no request sent with
    an expired token. The forge refuses anything but an app credential (its own token is one gz-tui never has)."""
    private, public = app_keys
    app = GitHubApp(app_id=APP_ID, public_key=public, token_lifetime=6.0)
    sim = forge_factory(org="acme", repos=300, token="not-known-to-gz-tui", github_app=app, scenario=Scenario(git_latency=0.05))
    key = write_private(tmp_path / "app.pem", private)
    dest = tmp_path / "dest"
    code, pipeline, events = run_pipeline(settings_for(sim, dest, github_app_id=APP_ID, github_app_key=key, workers=8, buffer=100))

    failed = [(e["repo"], e["message"]) for e in events if e["event"] == "repo_failed"]
    assert code == 0, failed
    assert repo_dirs(dest) == set(sim.repo_names())
    used = Counter(r.credential for r in sim.requests())
    assert not [label for label in used if label.startswith("expired") or label in ("none", "rejected", "token", "bad-jwt", "no-jwt")], used
    installations = {label for label in used if label.startswith("installation:")}
    assert sim.app_authority.issued >= 3 and len(installations) >= 3, used  # several refreshes, each one used
    git_tokens = {r.credential for r in sim.requests() if r.kind == "git"}
    assert len(git_tokens) >= 2  # the workers picked up refreshed tokens
    # The installation was found from the owner, with the app's JWT.
    app_calls = [(r.method, r.path, r.credential) for r in sim.requests() if r.credential == "jwt"]
    assert ("GET", "/orgs/acme/installation", "jwt") in app_calls
    assert all(method == "POST" and path.endswith("/access_tokens") for method, path, _ in app_calls if "installation" not in path[-13:])
    assert len(pipeline.credentials) == 1


def test_a_github_app_with_an_installation_id_and_from_the_environment(
    forge_factory: Any, tmp_path: Path, app_keys: tuple[bytes, bytes]
) -> None:
    private, public = app_keys
    sim = forge_factory(org="acme", repos=4, token="not-known", github_app=GitHubApp(app_id=APP_ID, public_key=public, installation_id=99))
    key = write_private(tmp_path / "app.pem", private)
    dest = tmp_path / "dest"
    env = {"GZ_TUI_GITHUB_APP_ID": str(APP_ID), "GZ_TUI_GITHUB_APP_KEY": str(key), "GZ_TUI_GITHUB_APP_INSTALLATION_ID": "99"}
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), env=env)
    assert result.returncode == 0, result.stderr
    assert repo_dirs(dest) == set(sim.repo_names())
    assert "no token" not in result.stderr
    assert not [r for r in sim.requests() if r.path.endswith("/installation")]  # the id was given: not looked up


def test_a_wrong_app_key_is_one_clear_line_and_exit_2(forge_factory: Any, tmp_path: Path, app_keys: tuple[bytes, bytes]) -> None:
    _, public = app_keys
    other, _ = key_pair()
    sim = forge_factory(org="acme", repos=2, token="not-known", github_app=GitHubApp(app_id=APP_ID, public_key=public))
    key = write_private(tmp_path / "other.pem", other)
    dest = tmp_path / "dest"
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--github-app-id", str(APP_ID), "--github-app-key", str(key))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"GitHub App {APP_ID}" in result.stderr and "private key" in result.stderr
    assert not dest.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--github-app-id", "1"], "--github-app-id and --github-app-key go together"),
        (["--github-app-id", "1", "--github-app-key", "KEY", "--provider", "gitlab"], "GitHub App signs in to GitHub only"),
        (["--github-app-id", "1", "--github-app-key", "KEY", "--token", "x"], "--token and a GitHub App"),
        (["--github-app-id", "1", "--github-app-key", "LOOSE"], "chmod 600"),
        (["--github-app-id", "1", "--github-app-key", "NOTAKEY"], "not an unencrypted PEM private key"),
        (["--github-app-installation-id", "5"], "needs --github-app-id"),
    ],
)
def test_github_app_settings_are_checked_before_anything_runs(
    tmp_path: Path, app_keys: tuple[bytes, bytes], args: list[str], message: str
) -> None:
    paths = {
        "KEY": write_private(tmp_path / "key.pem", app_keys[0]),
        "LOOSE": write_private(tmp_path / "loose.pem", app_keys[0], 0o640),
        "NOTAKEY": write_private(tmp_path / "not.pem", "hello\n"),
    }
    args = [str(paths.get(arg, arg)) for arg in args]
    result = run_cli("acme", "--dest", str(tmp_path / "d"), *args)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr


# --------------------------------------------------------------------------- token commands and files


def token_script(tmp_path: Path, body: str) -> str:
    script = tmp_path / "token-cmd.py"
    script.write_text(body)
    return f"{sys.executable} {script}"


def test_token_cmd_gives_the_token(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=3, token=TOKEN)
    command = token_script(tmp_path, f"print('  {TOKEN}  ')\n")
    dest = tmp_path / "dest"
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--token-cmd", command)
    assert result.returncode == 0, result.stderr
    assert repo_dirs(dest) == set(sim.repo_names())


def test_token_cmd_in_a_profile(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2, token=TOKEN)
    script = tmp_path / "t.py"
    script.write_text(f"print('{TOKEN}')\n")
    config = f'[profiles.work]\nprovider = "github"\nbase_url = "{sim.base_url}"\ntoken_cmd = ["{sys.executable}", "{script}"]\n'
    Path(os.environ["GZ_TUI_CONFIG"]).write_text(config)
    dest = tmp_path / "dest"
    result = run_cli("acme", "--profile", "work", "--dest", str(dest))
    assert result.returncode == 0, result.stderr
    assert repo_dirs(dest) == set(sim.repo_names())


def test_token_cmd_is_run_again_on_a_401_once(forge_factory: Any, tmp_path: Path) -> None:
    """The command's first token is stale (a long run outlived it); the forge's 401 makes gz-tui ask again."""
    sim = forge_factory(org="acme", repos=3, token=TOKEN)
    counter = tmp_path / "runs"
    command = token_script(
        tmp_path,
        f"from pathlib import Path\np = Path({str(counter)!r})\nn = int(p.read_text()) if p.exists() else 0\n"
        f"p.write_text(str(n + 1))\nprint('stale-token-123456' if n == 0 else {TOKEN!r})\n",
    )
    dest = tmp_path / "dest"
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--token-cmd", command)
    assert result.returncode == 0, result.stderr
    assert counter.read_text() == "2"
    assert repo_dirs(dest) == set(sim.repo_names())


def test_a_token_cmd_that_keeps_giving_a_refused_token_is_an_auth_error(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2, token=TOKEN)
    counter = tmp_path / "runs"
    command = token_script(
        tmp_path,
        f"from pathlib import Path\np = Path({str(counter)!r})\np.write_text(str(int(p.read_text()) + 1 if p.exists() else 1))\n"
        "print('always-wrong-123456')\n",
    )
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(tmp_path / "d"), "--token-cmd", command)
    assert result.returncode == 2
    assert counter.read_text() == "2"  # once at the start, once more on the 401: never a loop
    assert "rejected the credentials" in result.stderr and "always-wrong" not in result.stderr


@pytest.mark.parametrize(
    "body, expected",
    [
        ("import sys\nsys.stderr.write('vault: permission denied\\n')\nsys.exit(3)\n", "exited with 3: vault: permission denied"),
        ("pass\n", "printed no token"),
        ("print('two words')\n", "printed more than a token"),
    ],
    ids=["fails", "prints-nothing", "prints-two-words"],
)
def test_a_failing_token_cmd_is_one_line_and_exit_2(tmp_path: Path, body: str, expected: str) -> None:
    result = run_cli("acme", "--dest", str(tmp_path / "d"), "--token-cmd", token_script(tmp_path, body))
    assert result.returncode == 2
    assert result.stderr.startswith("gz-tui: --token-cmd ") and expected in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "d").exists()


def test_a_token_cmd_that_does_not_exist_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_cli("acme", "--dest", str(tmp_path / "d"), "--token-cmd", "no-such-secret-tool read x")
    assert result.returncode == 2
    assert "cannot run no-such-secret-tool" in result.stderr and result.stderr.count("\n") == 1


def test_token_file(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2, token=TOKEN)
    token_file = write_private(tmp_path / "token", f"{TOKEN}\n")
    dest = tmp_path / "dest"
    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--token-file", str(token_file))
    assert result.returncode == 0, result.stderr
    assert repo_dirs(dest) == set(sim.repo_names())


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_token_file_readable_by_others_is_refused_with_the_chmod(tmp_path: Path, mode: int) -> None:
    token_file = write_private(tmp_path / "token", f"{TOKEN}\n", mode)
    result = run_cli("acme", "--dest", str(tmp_path / "d"), "--token-file", str(token_file))
    assert result.returncode == 2
    assert f"run: chmod 600 {token_file}" in result.stderr and f"{mode:04o}" in result.stderr
    assert result.stderr.count("\n") == 1 and TOKEN not in result.stderr


def test_a_token_file_in_the_config_is_checked_too(tmp_path: Path) -> None:
    token_file = write_private(tmp_path / "token", f"{TOKEN}\n", 0o644)
    Path(os.environ["GZ_TUI_CONFIG"]).write_text(f'[profiles.github]\nprovider = "github"\ntoken_file = "{token_file}"\n')
    result = run_cli("acme", "--dest", str(tmp_path / "d"))
    assert result.returncode == 2 and "chmod 600" in result.stderr and "[profiles.github] token_file" in result.stderr
