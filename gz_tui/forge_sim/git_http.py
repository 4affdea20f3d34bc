"""Git smart HTTP through ``git http-backend`` run as a CGI program (FORGE-APIS §5.1).

Python's CGI support is gone (3.13), so this module does the CGI part itself: build the
environment, feed the request body on stdin from a thread (so a large response cannot deadlock
against an unread request), parse the CGI header block, and hand back the body as a stream.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import threading
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

GIT_PATH = re.compile(r"^/(?P<repo>.+?)\.git(?P<wiki>/wiki)?(?P<rest>/(?:info/refs|git-upload-pack|git-receive-pack|HEAD|objects/.+))$")
SOURCEHUT_GIT_PATH = re.compile(
    r"^/(?P<repo>~[^/]+/[^/]+?)(?:\.git)?(?P<rest>/(?:info/refs|git-upload-pack|git-receive-pack|HEAD|objects/.+))$"
)
"""git.sr.ht's ``/~user/name`` (with or without ``.git``)."""
_CHUNK = 64 * 1024


def match_git_path(path: str) -> tuple[str, str] | None:
    """Split ``/acme/sub/x.git/info/refs`` into (``acme/sub/x``, ``/info/refs``), or None if not git. Bitbucket Cloud's
    wiki URL ``/acme/x.git/wiki/info/refs`` names the same wiki as ``/acme/x.wiki.git/info/refs``: ``acme/x.wiki``;
    Sourcehut's ``/~acme/x/info/refs`` is ``~acme/x``."""
    sourcehut = SOURCEHUT_GIT_PATH.match(path)
    if sourcehut is not None:
        return sourcehut.group("repo"), sourcehut.group("rest")
    match = GIT_PATH.match(path)
    if match is None:
        return None
    return match.group("repo") + (".wiki" if match.group("wiki") else ""), match.group("rest")


@dataclass(slots=True)
class BackendRequest:
    """The parts of an HTTP request the CGI program needs."""

    method: str
    path_info: str
    query: str
    body: bytes = b""
    content_type: str | None = None
    content_encoding: str | None = None
    git_protocol: str | None = None


@dataclass(slots=True)
class BackendResponse:
    """Status and headers parsed from the CGI block; ``chunks()`` streams the rest of the body."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    _first: bytes
    _proc: subprocess.Popen[bytes]
    _feeder: threading.Thread
    _done: bool = field(default=False)

    def chunks(self) -> Iterator[bytes]:
        if self._first:
            yield self._first
        stdout = typing.cast(io.BufferedReader, self._proc.stdout)
        while True:
            chunk = stdout.read1(_CHUNK)
            if not chunk:
                break
            yield chunk

    def close(self) -> None:
        """Reap the process (killing it if the client went away mid-stream)."""
        if self._done:
            return
        self._done = True
        if self._proc.poll() is None:
            self._proc.kill()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc.wait()
        self._feeder.join(timeout=5)


def _environment(project_root: Path, request: BackendRequest) -> dict[str, str]:
    """CGI variables plus isolation from the caller's git config and ``GIT_*`` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_PROJECT_ROOT=str(project_root),
        GIT_HTTP_EXPORT_ALL="1",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        # Partial clones (--filter) and the lazy fetches of their missing objects, as GitHub/GitLab/Gitea allow.
        GIT_CONFIG_COUNT="2",
        GIT_CONFIG_KEY_0="uploadpack.allowFilter",
        GIT_CONFIG_VALUE_0="true",
        GIT_CONFIG_KEY_1="uploadpack.allowAnySHA1InWant",
        GIT_CONFIG_VALUE_1="true",
        GATEWAY_INTERFACE="CGI/1.1",
        SERVER_PROTOCOL="HTTP/1.1",
        REQUEST_METHOD=request.method,
        PATH_INFO=request.path_info,
        QUERY_STRING=request.query,
        REMOTE_ADDR="127.0.0.1",
        CONTENT_LENGTH=str(len(request.body)),
    )
    if request.content_type:
        env["CONTENT_TYPE"] = request.content_type
    if request.content_encoding:
        env["HTTP_CONTENT_ENCODING"] = request.content_encoding
    if request.git_protocol:
        env["GIT_PROTOCOL"] = request.git_protocol
        env["HTTP_GIT_PROTOCOL"] = request.git_protocol
    return env


def run_backend(project_root: Path, request: BackendRequest) -> BackendResponse:
    """Start ``git http-backend`` for one request and return once its headers are parsed."""
    proc = subprocess.Popen(
        ["git", "http-backend"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_environment(project_root, request),
    )
    feeder = threading.Thread(target=_feed, args=(proc, request.body), daemon=True)
    feeder.start()
    stdout = typing.cast(io.BufferedReader, proc.stdout)
    buffer = b""
    while True:
        end = _header_end(buffer)
        if end is not None:
            break
        chunk = stdout.read1(_CHUNK)
        if not chunk:
            end = (len(buffer), len(buffer))
            break
        buffer += chunk
    head, rest = buffer[: end[0]], buffer[end[1] :]
    status, reason, headers = 200, "OK", []
    for line in head.decode("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if not sep:
            continue
        if name.strip().lower() == "status":
            code, _, text = value.strip().partition(" ")
            status, reason = int(code), text or reason
        else:
            headers.append((name.strip(), value.strip()))
    if not head and not rest:
        status, reason = 500, "Internal Server Error"
    return BackendResponse(status, reason, headers, rest, proc, feeder)


def _header_end(buffer: bytes) -> tuple[int, int] | None:
    """(end of headers, start of body) once the blank line is in ``buffer``."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        pos = buffer.find(sep)
        if pos >= 0:
            return pos, pos + len(sep)
    return None


def _feed(proc: subprocess.Popen[bytes], body: bytes) -> None:
    assert proc.stdin is not None
    try:
        if body:
            proc.stdin.write(body)
    except (BrokenPipeError, OSError):
        pass
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass
