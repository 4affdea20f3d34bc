"""Hostile forges and secret hygiene, proved end to end against the embedded forge (issue 7).

Every test here plays the attacker: a forge (or a proxy in front of one) that lists dangerous names and
URLs, links or redirects elsewhere, echoes the credentials it received, or a user git config that would
recurse into submodules and run hooks. Each asserts what must *not* happen, and that the run still does
its job for the rest of the org.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import httpx
import pytest

from gz_tui.config import Settings
from gz_tui.forge_sim import Scenario
from gz_tui.forge_sim.api_common import Response
from gz_tui.forge_sim.dispatch import Dispatcher, GitAnswer
from gz_tui.forges.records import RemoteRepo
from gz_tui.pipeline.git import GitRunner, classify, git_environment
from gz_tui.pipeline.paths import UnsafeRepo, clone_url_for
from gz_tui.pipeline.state import StateStore
from tests.conftest import TOKEN_VARS, run_cli
from tests.helpers import events_match_their_declarations, repo_dirs, run_pipeline, settings_for, token_variable

TOKEN = "glpat-S3cretAuditTok3n_0123456789"
EMAIL = "audit@example.com"
GIT_USERS = ("x-access-token", "oauth2", "gz-tui", "x-token-auth", "x-bitbucket-api-token-auth", EMAIL)
"""Who a Basic header pairs the token with: git's user names on each forge, and the e-mail of a Bitbucket API token."""


def token_forms(token: str = TOKEN) -> list[bytes]:
    """The token as it could be leaked: raw, URL-encoded, and every base64 Basic-auth form (computed here,
    independently of gz_tui.logs)."""
    forms = {token, quote(token, safe="")}
    for raw in (token, *(f"{user}:{token}" for user in GIT_USERS)):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(raw.encode()).decode()
            forms |= {text, text.rstrip("=")}
    return sorted((f.encode() for f in forms), key=len, reverse=True)


def leaks(data: bytes) -> list[bytes]:
    return [form for form in token_forms() if form in data]


def walk_files(root: Path) -> Iterator[Path]:
    """Every regular file below root; tolerant of files vanishing mid-walk (scans run during a sync)."""
    for directory, _, files in os.walk(root, onerror=lambda _: None):
        for name in files:
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                yield path


def files_leaking(root: Path) -> dict[str, list[bytes]]:
    found = {}
    for path in walk_files(root):
        try:
            hits = leaks(path.read_bytes())
        except OSError:
            continue
        if hits:
            found[str(path)] = hits
    return found


def tree_snapshot(root: Path, exclude: Path | None = None) -> list[tuple[str, int, int]]:
    entries = []
    for path in sorted(root.rglob("*")):
        if exclude is not None and (path == exclude or exclude in path.parents):
            continue
        info = path.lstat()
        entries.append((path.relative_to(root).as_posix(), info.st_size, info.st_mtime_ns))
    return entries


def pwned_state() -> tuple[int, int] | None:
    try:
        info = os.lstat("/tmp/pwned")
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def user_git_config(monkeypatch: pytest.MonkeyPatch, home: Path, text: str) -> None:
    """Install ``text`` as the user's global git config where gz-tui's git children will read it.

    gz-tui keeps GIT_CONFIG_GLOBAL (it only chooses a file) but drops inherited config values; write both the
    conftest's GIT_CONFIG_GLOBAL file and ``$HOME/.gitconfig`` so the test holds either way.
    """
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(text)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    Path(os.environ["GIT_CONFIG_GLOBAL"]).write_text(text)


# ------------------------------------------------------------------------------------------------
# A tiny HTTP server for what the embedded forge cannot do: redirect, or be "another origin" that
# records whether credentials reached it.

Route = Callable[[str], tuple[int, dict[str, str], bytes]]


class FakeServer:
    """Threaded HTTP server on ``host``; ``routes`` map a path prefix to a handler; every request is recorded."""

    def __init__(self, host: str = "127.0.0.1", routes: dict[str, Route] | None = None) -> None:
        self.routes: dict[str, Route] = routes or {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer._handle(self)

            def do_POST(self) -> None:
                outer._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.host = host
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.server.server_address[1]}"

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        if length:
            handler.rfile.read(length)
        self.requests.append((handler.command, handler.path, {k.lower(): v for k, v in handler.headers.items()}))
        path = urlsplit(handler.path).path
        prefix = max((p for p in self.routes if path.startswith(p)), key=len, default=None)
        if prefix is None:
            status, headers, body = 200, {"Content-Type": "application/json"}, b"[]"
        else:
            status, headers, body = self.routes[prefix](handler.path)
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def credentials_seen(self) -> list[str]:
        return [f"{path}: {name}" for _, path, headers in self.requests for name in ("authorization", "private-token") if name in headers]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers() -> Iterator[Callable[..., FakeServer]]:
    started: list[FakeServer] = []

    def start(host: str = "127.0.0.1", routes: dict[str, Route] | None = None) -> FakeServer:
        server = FakeServer(host, routes)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def other_host() -> str:
    """127.0.0.2 is a different host on Linux loopback; fall back to 127.0.0.1 (another port is still another origin)."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
        return "127.0.0.2"
    except OSError:
        return "127.0.0.1"


def plain_settings(base_url: str, dest: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "owner": "acme",
        "base_url": base_url,
        "dest": dest,
        "workers": 2,
        "buffer": 20,
        "headless": True,
        "attempts": 1,
    }
    values.update(changes)
    return Settings(**values)


# ------------------------------------------------------------------------------------------------
# Hostile listings


@pytest.fixture
def git_spy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[list[str]]]:
    """Put a ``git`` first on PATH that logs its argv, then execs the real git; returns a reader of that log."""
    real = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True, check=True).stdout.strip()
    bindir = tmp_path / "spybin"
    bindir.mkdir()
    log = tmp_path / "git-argv.log"
    script = bindir / "git"
    script.write_text(f"#!/bin/bash\nrec=$(printf '%s\\x1f' \"$@\")\nprintf '%s\\x1e' \"$rec\" >> '{log}'\nexec '{real}' \"$@\"\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")

    def calls() -> list[list[str]]:
        if not log.exists():
            return []
        return [record.split("\x1f")[:-1] for record in log.read_text().split("\x1e") if record]

    return calls


REFUSALS: dict[str, str] = {
    "acme/../escape": "..",
    "acme/-rf": "unsafe path segment '-rf'",
    "acme/bad\nname": "unsafe path segment",
    "acme/\x1b[31mred": "unsafe path segment",
    "acme/[bold]markup[/bold]": "[bold]markup[",
    "acme/.git": "reserved path segment '.git'",
    "acme/.": "unsafe path segment '.'",
    "acme/evil-ext": "refusing clone URL 'ext::",
    "acme/evil-file": "refusing clone URL 'file://",
    "acme/evil-host": "another host (evil.example.invalid",
    "acme/evil-upload-pack": "refusing clone URL '--upload-pack",
    "acme/evil-u": "refusing clone URL '-uwhatever'",
    "acme/userinfo": "embedded credentials",
    "other/stolen": "owned by 'other'",
}
"""Every hostile entry (by full name) and the words of its per-repo refusal."""


@pytest.mark.parametrize("provider", ["github", "gitlab", "gitea", "bitbucket", "bitbucket-server", "gogs"])
def test_hostile_listing_is_refused_per_repo_contained_in_dest_and_the_rest_is_cloned(
    forge_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, git_spy: Callable[[], list[list[str]]], provider: str
) -> None:
    # Bitbucket Cloud with a token: its clone hrefs then name the user (https://USER@host/…), which must not stop them.
    token = TOKEN if provider == "bitbucket" else None
    sim = forge_factory(org="acme", repos=5, token=token, scenario=Scenario(hostile=True))
    area = tmp_path / "area"
    area.mkdir()
    (area / "neighbour.txt").write_text("untouched\n")
    dest = area / "dest"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # git runs with the inherited working directory: option injection would land here
    before, pwned = tree_snapshot(area, exclude=dest), pwned_state()

    code, _, events = run_pipeline(settings_for(sim, dest, provider=provider, base_url=sim.api_url(provider), attempts=1, token=token))

    assert code == 1  # some repos failed, the run itself did not
    assert tree_snapshot(area, exclude=dest) == before, "something was written next to DEST"
    assert list(cwd.iterdir()) == [], "something was written in the working directory"
    assert pwned_state() == pwned, "/tmp/pwned was touched: a hostile URL ran a command"

    failed = {e["repo"]: e for e in events if e["event"] == "repo_failed"}
    done = {e["repo"]: e for e in events if e["event"] == "repo_done"}
    refusals = dict(REFUSALS)
    if provider == "bitbucket-server":  # a Data Center project key is in capitals
        refusals["OTHER/stolen"] = refusals.pop("other/stolen").replace("other", "OTHER")
    if provider == "gogs":  # another owner's repo in a Gogs listing is a collaboration: left out, never cloned
        del refusals["other/stolen"]
        assert "other/stolen" not in {e.get("repo") for e in events}
    for full_name, words in refusals.items():
        event = failed.get(full_name)
        assert event is not None, f"{full_name!r} was not refused ({done.get(full_name)})"
        assert event["error_class"] == "unsafe" and words in event["message"], event
        assert event["attempts"] == 1
    twins = {"acme/Dup-Case", "acme/dup-case"}
    assert len(twins & set(done)) == 1, "exactly one of the case twins is cloned"
    (twin,) = twins & set(failed)
    assert failed[twin]["error_class"] == "unsafe" and "differs only in case" in failed[twin]["message"]

    legit = set(sim.repo_names(provider))
    assert ".github" in legit
    winner = (twins & set(done)).pop().split("/", 1)[1]
    assert repo_dirs(dest) == legit | {winner}, "the rest of the org (and .github) is cloned, nothing else"

    # The state DB records each refusal with its class and message, exactly as shown.
    with sqlite3.connect(dest / ".gz-tui" / "state.sqlite3") as db:
        rows = {r[0]: r[1:] for r in db.execute("SELECT full_name, status, error_class, error_message FROM repos")}
    for full_name in [*refusals, twin]:
        assert rows[full_name] == ("failed", "unsafe", failed[full_name]["message"]), full_name

    # git only ever ran as `git clone ... -- <forge URL> <dir inside DEST>`; no hostile string reached it.
    # `a/b`: a GitLab project path may nest (subgroup a, project b); a GitHub/Gitea name never contains "/".
    ab = failed["acme/a/b"]
    if provider == "gitlab":
        assert ab["error_class"] == "not_found"  # a legal nested path, which this forge does not serve
        assert "unsafe path segment '..'" in failed["acme/../escape"]["message"]
    else:
        assert ab["error_class"] == "unsafe" and "contains '/'" in ab["message"], ab
        assert "contains '/'" in failed["acme/../escape"]["message"]

    calls = [argv for argv in git_spy() if argv and argv[0] == "clone"]
    origin = {"bitbucket-server": f"{sim.base_url}/scm/acme/", "gogs": f"{sim.base_url}/gogs/acme/"}.get(provider, f"{sim.base_url}/acme/")
    assert len(calls) == len(legit) + 1 + (provider == "gitlab")  # the legit repos, the twin that won, GitLab's a/b
    for argv in calls:
        url, target = argv[-2], argv[-1]
        assert argv[-3] == "--" and url.startswith(origin) and Path(target).is_relative_to(dest), argv
    flat = "\n".join("\x1f".join(argv) for argv in git_spy())
    for needle in ("ext::", "file://", "upload-pack", "/tmp/pwned", "-uwhatever", "evil", "user:pw", "stolen", "escape"):
        assert needle not in flat
    assert not [r.path for r in sim.requests() if re.search(r"evil|userinfo|stolen|escape|/-rf", r.path)]


def test_forge_strings_render_inert_in_headless_output_and_status(forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=2, scenario=Scenario(hostile=True))
    dest = tmp_path / "dest"
    run = subprocess.run(
        [sys.executable, "-m", "gz_tui", "acme", "--base-url", sim.base_url, "--dest", str(dest), "--no-tui", "--attempts", "1"],
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    status = subprocess.run([sys.executable, "-m", "gz_tui", "status", str(dest)], capture_output=True, timeout=60, check=False)
    assert run.returncode == 1 and status.returncode == 0, run.stderr.decode()
    for output in (run.stdout, run.stderr, status.stdout, status.stderr):
        text = output.decode("utf-8")
        assert "\x1b" not in text and "\x9b" not in text
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text), text
    lines = run.stderr.decode().splitlines()
    # One line per event: a name with a newline cannot start a forged line of its own.
    assert all(re.match(r"(failed |gz-tui: |\[\d|waiting |resuming )", line) for line in lines if line.strip()), lines
    assert sum(line.startswith("failed ") for line in lines) == 17
    assert "failed acme/bad\\nname: unsafe:" in run.stderr.decode()
    assert "failed acme/\\x1b[31mred: unsafe:" in run.stderr.decode()
    assert "failed acme/[bold]markup[/bold]: unsafe:" in run.stderr.decode()  # plain text: markup stays literal
    assert "unsafe:" in status.stdout.decode()


# ------------------------------------------------------------------------------------------------
# The API token stays on its origin


@pytest.mark.parametrize("provider", ["gitlab", "gitea", "bitbucket"])
def test_api_token_never_follows_a_link_to_another_origin(
    forge_factory: Any, servers: Callable[..., FakeServer], tmp_path: Path, provider: str
) -> None:
    other = servers(other_host())
    sim = forge_factory(org="acme", repos=110, token=TOKEN, scenario=Scenario(gitlab_host=other.hostport))
    first = {
        "gitlab": "/api/v4/groups/acme/projects?per_page=100",
        "gitea": "/api/v1/orgs/acme/repos?limit=50",
        "bitbucket": "/2.0/repositories/acme?pagelen=100",
    }[provider]
    answer = httpx.get(sim.base_url + first, headers={"Authorization": f"Bearer {TOKEN}"})
    link = answer.json()["next"] if provider == "bitbucket" else answer.headers["link"]  # Bitbucket pages in the body
    assert other.hostport in link  # the forge really points its pagination at the other origin

    code, _, events = run_pipeline(settings_for(sim, tmp_path / "d", provider=provider, token=TOKEN, dry_run=True))

    assert code == 0
    assert events[-1]["listed"] == 110, "every page was still fetched (from the configured origin)"
    assert other.requests == [] and other.credentials_seen() == []
    pages = [r for r in sim.api_requests() if "/projects" in r.path or "/repos" in r.path]
    assert len(pages) >= 2 and all(r.status == 200 for r in pages)  # authenticated, on the right origin


@pytest.mark.parametrize("same_host", [False, True], ids=["other-host", "same-host-other-port"])
def test_api_token_never_follows_a_redirect_to_another_origin(servers: Callable[..., FakeServer], tmp_path: Path, same_host: bool) -> None:
    other = servers("127.0.0.1" if same_host else other_host())
    forge = servers(routes={"/": lambda path: (302, {"Location": other.origin + path}, b"")})

    code, _, events = run_pipeline(plain_settings(forge.origin, tmp_path / "d", token=TOKEN))

    assert code != 0
    failure = next(e for e in events if e["event"] == "listing_failed")
    assert "redirected to another host" in failure["message"] and "not following" in failure["message"]
    assert other.requests == []
    assert forge.requests and forge.requests[0][2].get("authorization") == f"Bearer {TOKEN}"
    assert not leaks(json.dumps(events).encode())


def test_git_neither_follows_a_redirect_nor_carries_the_token_to_another_origin(servers: Callable[..., FakeServer], tmp_path: Path) -> None:
    other = servers(other_host())
    forge: FakeServer

    def listing(_: str) -> tuple[int, dict[str, str], bytes]:
        repo = {"id": 1, "name": "r", "full_name": "acme/r", "clone_url": f"{forge.origin}/acme/r.git", "owner": {"login": "acme"}}
        return 200, {"Content-Type": "application/json"}, json.dumps([repo]).encode()

    forge = servers(
        routes={
            "/orgs/acme/repos": listing,
            "/orgs/acme": lambda _: (200, {"Content-Type": "application/json"}, b'{"public_repos": 1}'),
            "/user": lambda _: (200, {"Content-Type": "application/json"}, b'{"login": "me"}'),  # who the token is
            "/acme/r.git": lambda path: (302, {"Location": other.origin + path}, b""),
        }
    )
    dest = tmp_path / "d"

    code, _, events = run_pipeline(plain_settings(forge.origin, dest, token=TOKEN))

    assert code == 1
    failure = next(e for e in events if e["event"] == "repo_failed")
    assert failure["repo"] == "acme/r" and not leaks(failure["message"].encode())
    assert other.requests == [], "git followed the forge's redirect to another origin"
    git_requests = [headers for _, path, headers in forge.requests if path.startswith("/acme/r.git")]
    assert git_requests and all(h.get("authorization", "").startswith("Basic ") for h in git_requests)
    assert repo_dirs(dest) == set() and not files_leaking(dest)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_forge_echoing_the_token_in_its_errors_does_not_get_it_printed(
    servers: Callable[..., FakeServer], tmp_path: Path, status: int
) -> None:
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    body = json.dumps({"message": f"token {TOKEN} rejected; you sent Basic {basic}; url {quote(TOKEN)}"}).encode()
    forge = servers(routes={"/": lambda _: (status, {"Content-Type": "application/json"}, body)})

    code, pipeline, events = run_pipeline(plain_settings(forge.origin, tmp_path / "d", token=TOKEN))

    assert code != 0
    failure = next(e for e in events if e["event"] == "listing_failed")
    assert "***" in failure["message"] or status == 404, failure  # the forge's text is kept, the secret is not
    assert not leaks(json.dumps(events).encode()) and not leaks((pipeline.stats.message or "").encode())


def test_a_forge_reflecting_the_token_into_listing_data_gets_nothing_written_to_disk(
    servers: Callable[..., FakeServer], tmp_path: Path
) -> None:
    """A forge (or proxy) that echoes the token into a clone URL or a name: git would write the URL to .git/config
    and the name would become a directory under DEST. Such entries are refused before git runs."""
    forge: FakeServer

    def listing(_: str) -> tuple[int, dict[str, str], bytes]:
        repos = [
            {"id": 1, "name": "ok", "full_name": "acme/ok", "clone_url": f"{forge.origin}/acme/ok.git"},
            {"id": 2, "name": "url", "full_name": "acme/url", "clone_url": f"{forge.origin}/acme/{TOKEN}.git"},
            {"id": 3, "name": f"n-{TOKEN}", "full_name": f"acme/n-{TOKEN}", "clone_url": f"{forge.origin}/acme/n.git"},
            {"id": 4, "name": "ext", "full_name": "acme/ext", "clone_url": f"ext::sh -c echo% {TOKEN}"},
        ]
        return 200, {"Content-Type": "application/json"}, json.dumps(repos).encode()

    json_headers = {"Content-Type": "application/json"}
    forge = servers(
        routes={
            "/orgs/acme/repos": listing,
            "/orgs/acme": lambda _: (200, json_headers, b"{}"),
            "/user": lambda _: (200, json_headers, b'{"login": "me"}'),  # the token's owner, asked before listing
        }
    )
    dest = tmp_path / "d"

    _, _, events = run_pipeline(plain_settings(forge.origin, dest, token=TOKEN))

    outcome = {e["repo"].replace("***", "TOKEN"): e for e in events if e["event"] in ("repo_failed", "repo_done")}
    for name in ("acme/url", "acme/n-TOKEN"):
        assert outcome[name]["event"] == "repo_failed" and outcome[name]["error_class"] == "unsafe", outcome[name]
        assert "token" in outcome[name]["message"]
    assert outcome["acme/ok"]["event"] == "repo_done"  # the forge's dumb answer still clones: the test is live
    assert not [git for _, path, git in forge.requests if TOKEN in path], "git fetched a URL carrying the token"
    assert not [p for p in dest.rglob("*") if TOKEN in p.name]
    residue = [p for p in files_leaking(dest)] + [e["message"] for e in outcome.values() if leaks(e.get("message", "").encode())]
    assert residue == [], "the echoed token reached the state DB or a message"


@pytest.mark.parametrize(
    "ssh_url",
    [
        "ssh://-oProxyCommand@forge.example/acme/x.git",  # a user that ssh would read as an option
        "git@forge.example:acme/x.git\nProxyCommand x",  # control characters
        "ssh://git@forge.example/acme/x.git; touch /tmp/pwned",  # whitespace
        "ext::ssh -oProxyCommand=x git@forge.example:x",
        "git@forge.example.evil.invalid:acme/x.git",
    ],
)
def test_hostile_ssh_urls_are_refused(ssh_url: str) -> None:
    repo = RemoteRepo("1", "acme/x", "x", "https://forge.example/acme/x.git", ssh_url=ssh_url, owner="acme")
    with pytest.raises(UnsafeRepo):
        clone_url_for(repo, api_base="https://forge.example/api/v4", protocol="ssh", allow_http=False)


# ------------------------------------------------------------------------------------------------
# Secret audit: a token-protected forge, during and after whole CLI runs


def hostile_git_side(self: Dispatcher, repo_path: str, rest: str, query: str, request: Any, authorization: str | None) -> GitAnswer:
    """A git endpoint that rejects the token the API accepts: 401 for odd-numbered repos, and for the others a 404
    whose text/plain body (which git prints as ``remote:`` lines) echoes the credentials it received, with a
    forged ``fatal:`` line and terminal escapes."""
    time.sleep(0.15)  # keep each git child alive long enough for the /proc poll to see it
    number = int(re.sub(r"\D", "", repo_path) or 0)
    if number % 2:
        return GitAnswer(Response(401, b"Authentication required\n", [("WWW-Authenticate", 'Basic realm="x"')], content_type="text/plain"))
    credential = (authorization or "").partition(" ")[2]
    decoded = base64.b64decode(credential + "==").decode(errors="replace") if credential else ""
    body = f"no repository for {authorization}\nyou are {decoded}\n\x1b]0;owned\x07\x1b[2J\rfatal: {authorization}\n"
    return GitAnswer(Response(404, body.encode(), content_type="text/plain; charset=utf-8"))


@pytest.mark.parametrize(
    "provider, git_rejects, output, extra, written",
    [
        ("github", True, "--json", (), "{}"),
        ("gitlab", False, "--no-tui", (), "{}"),
        ("gitea", False, "--json", ("--mirror", "--wikis"), "{}"),
        ("gitlab", False, "--json", ("--lfs",), "{}"),
        ("github", False, "--no-tui", ("--mirror", "--lfs"), "{}"),
        ("bitbucket", False, "--json", ("--mirror", "--wikis"), "{}"),
        pytest.param("bitbucket", False, "--no-tui", (), f"{EMAIL}:{{}}"),
        pytest.param("bitbucket-server", False, "--json", (), "{}"),
        pytest.param("sourcehut", False, "--json", (), "{}"),
        pytest.param("gogs", False, "--json", ("--mirror", "--wikis"), "{}"),
    ],
    ids=[
        "github-git-rejects-token-and-echoes-it-json",
        "gitlab-clones-fine-plain-headless",
        "gitea-mirrors-and-wikis-json",
        "gitlab-lfs-clones-json",
        "github-lfs-mirrors-plain-headless",
        "bitbucket-access-token-mirrors-and-wikis-json",
        "bitbucket-api-token-written-email-colon-token",
        "bitbucket-server-bearer-json",
        "sourcehut-bearer-to-the-api-only-json",
        "gogs-mirrors-and-every-wiki-tried-json",
    ],
)
def test_secret_audit_during_and_after_a_cli_run(
    forge_factory: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
    git_rejects: bool,
    output: str,
    extra: tuple[str, ...],
    written: str,
) -> None:
    if git_rejects:
        monkeypatch.setattr(Dispatcher, "serve_git", hostile_git_side)
    else:
        real_serve_git = Dispatcher.serve_git

        def slow_serve_git(self: Dispatcher, *args: Any) -> GitAnswer:
            time.sleep(0.1)  # keep each git child alive long enough for the /proc poll to see it
            return real_serve_git(self, *args)

        monkeypatch.setattr(Dispatcher, "serve_git", slow_serve_git)
    marker = tmp_path / "credential-helper-ran"
    # The user's own git config asks for a credential helper: gz-tui must reset it (or a 401 would run it).
    user_git_config(monkeypatch, tmp_path / "home", f"[credential]\n\thelper = \"!f() {{ touch '{marker}'; }}; f\"\n")
    credential = written.format(TOKEN)  # the token alone, or a Bitbucket API token written EMAIL:TOKEN
    lfs = "--lfs" in extra  # git-lfs's traffic audited too
    scenario = Scenario(
        hostile=True,
        repo_size_kb=0 if git_rejects else 256,
        lfs_repos=4 if lfs else 0,
        lfs_style="gitlab" if provider == "gitlab" else "github",
    )
    sim = forge_factory(org="acme", repos=10, token=credential, scenario=scenario)
    sim.add_repo("too-many-requests-429")  # a name (like a port) must not turn an auth failure into a "throttled" retry
    dest = tmp_path / "dest"
    log_file = tmp_path / "logs" / "audit.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gz_tui",
            "acme",
            "--provider",
            provider,
            "--base-url",
            sim.api_url(provider),
            "--dest",
            str(dest),
            output,
            "--workers",
            "2",
            "--attempts",
            "1",
            "--log-file",
            str(log_file),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, token_variable(provider): credential},
        umask=0,  # the most permissive umask: private files must be private by construction
    )
    out_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: out_chunks.append(process.stdout.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    git_seen, cmdline_leaks, loose_environ, sidecar_modes, scans, dest_leaks = 0, [], [], {}, 0, {}
    last_scan = 0.0
    deadline = time.monotonic() + 90
    while process.poll() is None and time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes()
                environ = (entry / "environ").stat()
            except OSError:
                continue
            if os.path.basename(argv.split(b"\0")[0]).startswith(b"git"):
                git_seen += 1
                cmdline_leaks += leaks(argv)
                if stat.S_IMODE(environ.st_mode) & 0o077 or environ.st_uid != os.getuid():
                    loose_environ.append((entry.name, oct(environ.st_mode), environ.st_uid))
        for suffix in ("-wal", "-shm"):
            sidecar = dest / ".gz-tui" / f"state.sqlite3{suffix}"
            try:
                sidecar_modes[suffix] = mode(sidecar)
            except OSError:
                pass
        if time.monotonic() - last_scan > 0.2:  # during the run: clones in progress, the state DB and its WAL
            dest_leaks.update(files_leaking(dest))
            scans += 1
            last_scan = time.monotonic()
        time.sleep(0.005)
    err = process.stderr.read()  # type: ignore[union-attr]
    process.wait(timeout=30)
    reader.join(timeout=30)
    out = b"".join(out_chunks)

    assert b"Traceback" not in err, err.decode()
    assert process.returncode == 1, err.decode()  # hostile entries (and, here, git auth) fail per repo
    assert git_seen > 0 and scans > 0
    assert cmdline_leaks == [], "the token reached a git child's command line"
    assert dest_leaks == {}, f"token found under DEST during the run: {dest_leaks}"
    assert files_leaking(dest) == {}, "token found under DEST after the run (.git/config, state DB, WAL...)"
    assert not leaks(out) and not leaks(err), f"token in {output} stdout or in stderr"
    assert b"\x1b" not in out and b"\x1b" not in err
    assert log_file.exists() and not leaks(log_file.read_bytes())
    assert not marker.exists(), "the user's credential helper ran"
    if loose_environ:  # the kernel makes /proc/PID/environ owner-only; document rather than fail if not
        warnings.warn(f"/proc/PID/environ of git children readable by others: {loose_environ}", stacklevel=1)

    if output == "--json":
        events = [json.loads(line) for line in out.decode().splitlines()]
        assert not [e for e in events if e["event"] == "repo_failed" and leaks(e["message"].encode())]
    else:
        assert b"failed " in err and b"cloned " in out  # plain headless: per-repo lines on stderr, summary on stdout
    with sqlite3.connect(f"file:{dest / '.gz-tui' / 'state.sqlite3'}?mode=ro", uri=True) as db:
        failures = {r[0]: r[1:] for r in db.execute("SELECT full_name, error_class, error_message FROM repos WHERE status = 'failed'")}
        runs = [str(r) for r in db.execute("SELECT * FROM runs")]
    for text in [*(message for _, message in failures.values()), *runs]:
        assert not leaks(text.encode()), text
    if git_rejects:
        legit = {f"acme/{name}" for name in sim.repo_names()}
        classes = {name: error_class for name, (error_class, _) in failures.items() if name in legit}
        assert set(classes) == legit and set(classes.values()) == {"auth", "not_found"}, classes
        assert classes["acme/too-many-requests-429"] == "auth"
        # The message is git's own fatal line: not the forge's echo (remote: lines, escapes, a forged "fatal:").
        echoed = [message for name, (_, message) in failures.items() if name in legit]
        assert all(m.startswith("fatal:") for m in echoed), echoed
        assert not [m for m in echoed if "remote:" in m or "\x1b" in m or "owned" in m or "Basic" in m], echoed
        assert repo_dirs(dest) == set()
    elif "--mirror" in extra:
        names = sim.repo_names(provider)
        assert all((dest / f"{name}.git" / "HEAD").is_file() for name in names)
        assert "--wikis" not in extra or any((dest / f"{name}.wiki.git" / "HEAD").is_file() for name in names)  # wikis audited too
    else:
        assert set(sim.repo_names(provider)) <= repo_dirs(dest)
    if "--lfs" in extra:  # git-lfs ran (and was audited): the LFS files' contents are in the copies
        assert any(r.kind == "lfs" for r in sim.requests())

    # File modes, even under umask 0: DEST/.gz-tui 0700; the state DB, its WAL/SHM, the lock and the log 0600.
    assert mode(dest / ".gz-tui") == 0o700
    for private in (dest / ".gz-tui" / "state.sqlite3", dest / ".gz-tui" / "lock", log_file):
        assert mode(private) == 0o600, private
    assert set(sidecar_modes.values()) <= {0o600}, sidecar_modes  # as seen while the run had the DB open


def test_state_db_and_its_wal_and_shm_are_private_even_under_umask_0(tmp_path: Path) -> None:
    """Deterministic twin of the observation above: the WAL and SHM exist only while the DB is open."""
    path = tmp_path / "dest" / ".gz-tui" / "state.sqlite3"
    previous = os.umask(0)
    try:
        store = StateStore(path)
        try:
            store.runs.begin(forge="github", base_url="https://x", owner="acme", dest=str(tmp_path), options={}, dry_run=False)
            modes = {p.name: mode(p) for p in path.parent.iterdir()}
        finally:
            store.close()
    finally:
        os.umask(previous)
    assert modes == {"state.sqlite3": 0o600, "state.sqlite3-wal": 0o600, "state.sqlite3-shm": 0o600}
    assert mode(path.parent) == 0o700


@pytest.mark.parametrize(
    "stderr, expected",
    [
        ("fatal: could not read Username for 'http://127.0.0.1:4290': terminal prompts disabled", "auth"),
        ("fatal: repository 'https://forge:5030/acme/rate-limit-429-ssl.git/' not found", "not_found"),
        ("Cloning into '/srv/no space left/too-many-requests'...\nfatal: Authentication failed for 'https://f/x/'", "auth"),
    ],
)
def test_forge_chosen_names_and_ports_in_git_messages_do_not_steer_error_classes(stderr: str, expected: str) -> None:
    """An auth failure misread as "throttled" would be retried: more failed logins (GitLab bans an IP for that)."""
    assert classify(stderr) == expected


def test_git_output_is_redacted_in_every_encoding_of_the_token(tmp_path: Path) -> None:
    """Whatever git prints (a server message, a URL the forge chose) reaches the user only as the one-line summary:
    the raw token, its base64 Basic forms and its URL-encoded form are all redacted there, escapes removed."""
    basic = base64.b64encode(f"oauth2:{TOKEN}".encode()).decode()
    urlsafe = base64.urlsafe_b64encode(f"x-access-token:{TOKEN}".encode()).decode().rstrip("=")
    fake_git = tmp_path / "git"
    fake_git.write_text(
        "#!/bin/sh\n"
        f"printf 'remote: echo {TOKEN}\\n' >&2\n"
        f"printf 'fatal: \\033[31mdenied\\033[0m Basic {basic} for /acme/{urlsafe}/{quote(TOKEN, safe='')}/{TOKEN}.git\\n' >&2\n"
        "exit 128\n"
    )
    fake_git.chmod(0o755)
    runner = GitRunner(dict(os.environ), secrets=[TOKEN], git=str(fake_git))

    result = anyio.run(lambda: runner.run(["clone", "--", "https://forge.invalid/acme/x.git", "x"]))

    assert not result.ok and result.message.startswith("fatal: denied Basic ***"), result.message
    assert not leaks(result.message.encode()) and "\x1b" not in result.message


# ------------------------------------------------------------------------------------------------
# Submodules and hooks, with a user git config that asks for both


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_clones_and_updates_never_recurse_into_submodules_or_run_hooks(
    forge_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = forge_factory(org="acme", repos=3)
    # A repo with two submodules, planted where the forge serves repo-00001 from (bare repos are made lazily):
    # one on the forge itself (a fetch would show in its request log), one over the local file transport.
    work = tmp_path / "work"
    _git("init", "-q", "-b", "main", str(work))
    (work / "README.md").write_text("with submodules\n")
    _git("add", "README.md", cwd=work)
    _git("commit", "-q", "-m", "base", cwd=work)
    base = _git("rev-parse", "HEAD", cwd=work)
    (work / ".gitmodules").write_text(
        f'[submodule "sub"]\n\tpath = sub\n\turl = {sim.base_url}/acme/submodule-target.git\n'
        f'[submodule "local"]\n\tpath = local\n\turl = {work}\n'
    )
    _git("update-index", "--add", "--cacheinfo", f"160000,{base},sub", cwd=work)
    _git("update-index", "--add", "--cacheinfo", f"160000,{base},local", cwd=work)
    _git("add", ".gitmodules", cwd=work)
    _git("commit", "-q", "-m", "submodules", cwd=work)
    bare = sim.root / "acme" / "repo-00001.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    _git("clone", "-q", "--bare", str(work), str(bare))

    # The user's global config: recurse everywhere, mark every submodule active, and run hooks from a template
    # dir and a hooksPath; each hook appends to a marker file.
    marker = tmp_path / "hook-ran"
    hook = f"#!/bin/sh\necho \"$0\" >> '{marker}'\n"
    template, hooks = tmp_path / "template", tmp_path / "hooks"
    for directory in (template / "hooks", hooks):
        directory.mkdir(parents=True)
        for name in ("post-checkout", "post-merge", "post-rewrite", "reference-transaction", "pre-auto-gc", "post-index-change"):
            (directory / name).write_text(hook)
            (directory / name).chmod(0o755)
    (template / "description").write_text("from the user's template dir\n")  # proves gz-tui's git read this config
    user_git_config(
        monkeypatch,
        tmp_path / "home",
        "[submodule]\n\trecurse = true\n\tactive = .\n"
        "[fetch]\n\trecurseSubmodules = true\n"
        "[protocol]\n\tallow = always\n"
        f"[init]\n\ttemplateDir = {template}\n"
        f"[core]\n\thooksPath = {hooks}\n",
    )
    # Control: plain git with this config does run the hooks (so the assertions below mean something).
    subprocess.run(["git", "clone", "-q", "--", sim.git_url("repo-00002"), str(tmp_path / "control")], check=True, capture_output=True)
    assert marker.exists()
    marker.unlink()
    sim.clear_log()

    dest = tmp_path / "dest"
    code, _, events = run_pipeline(settings_for(sim, dest))
    assert code == 0, [e for e in events if e["event"] == "repo_failed"]
    clone = dest / "repo-00001"
    assert (clone / ".gitmodules").exists()
    assert (clone / ".git" / "description").read_text() == "from the user's template dir\n", "config not in effect"

    # An update that moves both gitlinks, in the mode that merges (submodule.recurse would apply there).
    (work / "README.md").write_text("moved\n")
    _git("add", "README.md", cwd=work)  # not `commit -a`: that would stage the (absent) submodule dirs as deleted
    _git("commit", "-q", "-m", "next", cwd=work)
    moved = _git("rev-parse", "HEAD", cwd=work)
    _git("update-index", "--add", "--cacheinfo", f"160000,{moved},sub", cwd=work)
    _git("update-index", "--add", "--cacheinfo", f"160000,{moved},local", cwd=work)
    _git("commit", "-q", "-m", "bump submodules", cwd=work)
    _git("push", "-q", str(bare), "main", cwd=work)
    code, _, events = run_pipeline(settings_for(sim, dest, update="pull", fresh=True))
    assert code == 0, [e for e in events if e["event"] == "repo_failed"]
    assert _git("rev-parse", "HEAD", cwd=clone) == _git("rev-parse", "main", cwd=bare)

    assert not marker.exists(), f"hooks ran: {marker.read_text() if marker.exists() else ''}"
    for name in ("sub", "local"):
        assert not (clone / name).exists() or list((clone / name).iterdir()) == [], f"submodule {name} was checked out"
    assert not (clone / ".git" / "modules").exists(), "a submodule was cloned"
    # The contract behind it (clone/fetch also pass --no-recurse-submodules): it outranks the user's config
    # for every git gz-tui runs, and a .gitmodules URL cannot use the file or ext transports.
    env = git_environment(base={"PATH": os.environ["PATH"]}, protocol="https", allow_http=False)
    config = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))}
    assert config["submodule.recurse"] == "false" and config["core.hooksPath"] == os.devnull
    assert env["GIT_PROTOCOL_FROM_USER"] == "0" and env["GIT_ALLOW_PROTOCOL"] == "https"
    assert not [r.path for r in sim.requests() if "submodule-target" in r.path], "a submodule was fetched from the forge"


# ------------------------------------------------------------------------------------------------
# A short token must not corrupt the output; token variables must not reach git


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def test_json_output_stays_parseable_with_a_one_letter_token(forge_factory: Any, tmp_path: Path) -> None:
    """``--token x``: every "x" used to become ``***`` in the serialised line ("e***it_code"). Redaction now
    touches values only, and a short token only as a whole word: the repo literally named "x" is the one place
    the token shows up, and that repo is refused."""
    sim = forge_factory(org="acme", repos=2, token="x")
    for name in ("x", "xerox", "tax-index", "fix_box"):
        sim.add_repo(name)
    dest = tmp_path / "dest"

    result = run_cli("acme", "--base-url", sim.base_url, "--dest", str(dest), "--json", "--token", "x", "--attempts", "1")

    assert result.returncode == 1, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    events_match_their_declarations(events)  # keys and structure intact
    done = {e["repo"] for e in events if e["event"] == "repo_done"}
    assert {"acme/xerox", "acme/tax-index", "acme/fix_box"} | {f"acme/{n}" for n in sim.repo_names()[:2]} <= done
    failed = [e for e in events if e["event"] == "repo_failed"]
    assert [(e["repo"], e["error_class"]) for e in failed] == [("acme/***", "unsafe")]
    redacted = [text for event in events if event is not failed[0] for text in strings_in(event) if "***" in text]
    assert redacted == [], "a value without the token as a word was redacted"
    assert events[-1]["event"] == "summary" and events[-1]["exit_code"] == 1 and events[-1]["failed"] == 1


def git_wrapper(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A ``git`` early on PATH that records its environment, then runs the real git."""
    real = shutil.which("git")
    assert real is not None
    bin_dir, dumps = tmp_path / "bin", tmp_path / "git-environ"
    bin_dir.mkdir()
    dumps.mkdir()
    wrapper = bin_dir / "git"
    wrapper.write_text(f"#!/bin/sh\ncat /proc/$$/environ > '{dumps}'/$$.env\nexec '{real}' \"$@\"\n")
    wrapper.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, dumps


@pytest.mark.parametrize("source", ["GH_TOKEN", "profile token_env"])
def test_token_variables_never_reach_a_git_child(forge_factory: Any, tmp_path: Path, source: str) -> None:
    """git gets the token only as the origin-scoped header: neither GH_TOKEN (and its siblings) nor a profile's
    own variable is left in the environment of git (nor, therefore, of git-remote-http and the rest)."""
    sim = forge_factory(org="acme", repos=3, token=TOKEN)
    dest = tmp_path / "dest"
    env, dumps = git_wrapper(tmp_path)
    others = {name: f"{TOKEN}-{name}" for name in TOKEN_VARS if name != "GH_TOKEN"}
    args = ["acme", "--dest", str(dest), "--no-tui"]
    if source == "GH_TOKEN":
        env |= {"GH_TOKEN": TOKEN, **others}
        args += ["--base-url", sim.base_url]
    else:
        profile = f'[profiles.work]\nprovider = "github"\nbase_url = "{sim.base_url}"\ntoken_env = "WORK_FORGE_TOKEN"\n'
        Path(os.environ["GZ_TUI_CONFIG"]).write_text(profile)
        env |= {"WORK_FORGE_TOKEN": TOKEN, **others}
        args += ["--profile", "work"]

    result = run_cli(*args, env=env)

    assert result.returncode == 0, result.stderr
    assert repo_dirs(dest) == set(sim.repo_names())  # the token did reach git, as the header
    environments = [path.read_bytes() for path in dumps.iterdir()]
    assert len(environments) >= 3
    for raw in environments:
        names = {item.split(b"=", 1)[0].decode() for item in raw.split(b"\0") if item}
        assert not names & {*TOKEN_VARS, "WORK_FORGE_TOKEN"}, names
        assert TOKEN.encode() not in raw


# --------------------------------------------------------------------------- GitHub App credentials (issue 18)

_INSTALLATION_TOKEN = re.compile(rb"ghs_[A-Za-z0-9_-]{20,}")
_JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}")


def app_secret_leaks(data: bytes, key_lines: list[bytes]) -> list[str]:
    """Installation tokens, JWTs (raw or in git's Basic-auth base64) and the private key's lines found in ``data``."""
    found = [m.decode() for m in _INSTALLATION_TOKEN.findall(data)] + [m.decode()[:20] for m in _JWT.findall(data)]
    found += [line.decode()[:12] for line in key_lines if line in data]
    found += ["basic-auth" for _ in re.findall(rb"eC1hY2Nlc3MtdG9rZW46Z2hz", data)]  # base64("x-access-token:ghs")
    return found


@pytest.mark.slow
def test_github_app_key_jwt_and_installation_tokens_never_leak(forge_factory: Any, tmp_path: Path) -> None:
    """A GitHub App run whose tokens expire mid-run: the key, the JWTs and every installation token stay out of git's
    argv, .git/config, the state DB, the log, the output; a refused key is one line without them."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from gz_tui.forge_sim import GitHubApp

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_lines = [line for line in private.splitlines() if line and not line.startswith(b"-----")]
    key_path = tmp_path / "app.pem"
    key_path.write_bytes(private)
    key_path.chmod(0o600)
    # Tokens live 3 s (1 or 2 s counted, since expires_at and Date are whole seconds; refreshed once a third of that
    # is left); 40 repos over 4 workers with 100 ms added to each git request take well over that, however fast the
    # machine: several tokens are always minted and used.
    app = GitHubApp(app_id=7, public_key=public, token_lifetime=3.0)
    sim = forge_factory(org="acme", repos=40, token="not-known", github_app=app, scenario=Scenario(git_latency=0.1))
    env, dumps = git_wrapper(tmp_path)
    wrapper = Path(env["PATH"].split(os.pathsep)[0]) / "git"
    real = shutil.which("git")
    wrapper.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > '{dumps}'/$$.argv\nexec '{real}' \"$@\"\n")
    dest = tmp_path / "dest"
    log_file = tmp_path / "logs" / "app.log"
    result = run_cli(
        "acme",
        "--base-url",
        sim.base_url,
        "--dest",
        str(dest),
        "--json",
        "--workers",
        "4",
        "--log-file",
        str(log_file),
        "--github-app-id",
        "7",
        "--github-app-key",
        str(key_path),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert repo_dirs(dest) == set(sim.repo_names())
    assert sim.app_authority is not None and sim.app_authority.issued >= 2  # tokens were refreshed mid-run
    argvs = [path.read_bytes() for path in dumps.glob("*.argv")]
    assert len(argvs) >= 40
    for data in argvs:
        assert app_secret_leaks(data, key_lines) == []
    for path in walk_files(dest):  # .git/config of every clone, the state DB and its WAL
        assert app_secret_leaks(path.read_bytes(), key_lines) == [], path
    assert app_secret_leaks(log_file.read_bytes(), key_lines) == []
    assert app_secret_leaks(result.stdout.encode() + result.stderr.encode(), key_lines) == []

    # A key the forge does not know: refused in one line that holds neither the key nor the JWT.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    other_path = tmp_path / "other.pem"
    other_path.write_bytes(other_pem)
    other_path.chmod(0o600)
    refused = run_cli(
        "acme", "--base-url", sim.base_url, "--dest", str(tmp_path / "d2"), "--github-app-id", "7", "--github-app-key", str(other_path)
    )
    other_lines = [line for line in other_pem.splitlines() if line and not line.startswith(b"-----")]
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert app_secret_leaks(refused.stderr.encode() + refused.stdout.encode(), other_lines) == []


@pytest.mark.slow
def test_a_forge_echoing_the_installation_token_and_jwt_gets_them_redacted(tmp_path: Path) -> None:
    """Every token and JWT a credential makes is registered with the one redactor before it is sent."""
    import anyio
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from gz_tui.forges.github_app import GitHubAppToken
    from gz_tui.untrusted import SECRETS, redact

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path = tmp_path / "k.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    seen: dict[str, str] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["jwt"] = request.headers["authorization"].split(" ", 1)[1]
        return httpx.Response(201, json={"token": "ghs_EchoedInstallationToken0123456789", "expires_at": "2999-01-01T00:00:00Z"})

    previous = SECRETS.forms
    try:
        credential = GitHubAppToken(
            app_id=1, key_path=path, installation_id=5, owner="acme", api_base="https://api.example", transport=httpx.MockTransport(handler)
        )
        token = anyio.run(credential.fresh)
        assert token == "ghs_EchoedInstallationToken0123456789"
        echoed = f"server says {token} and {seen['jwt']} and {pem.decode().splitlines()[1]}"
        assert redact(echoed) == "server says *** and *** and ***"
    finally:
        SECRETS.reset(previous)
