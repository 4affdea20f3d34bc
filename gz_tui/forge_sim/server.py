"""HTTP/1.1 plumbing: a keep-alive ThreadingHTTPServer that routes to the API flavours or git.

Only bytes on the wire live here (request bodies incl. chunked ones, responses, streaming,
dropped connections, held and trickled answers, the request log); what to answer is decided in
``dispatch``. A held connection ends when the client hangs up or the forge stops, never later.
"""

from __future__ import annotations

import itertools
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from gz_tui.forge_sim.api_common import ApiRequest, ForgeApi, Response
from gz_tui.forge_sim.dispatch import Dispatcher
from gz_tui.forge_sim.git_http import BackendRequest, match_git_path
from gz_tui.forge_sim.lfs import ELSEWHERE_HOST, LFS_PATH, MEDIA_PATH
from gz_tui.forge_sim.records import RequestLog, RequestRecord, redact_path

_API_PREFIXES = (
    ("/api/v4", "gitlab"),
    ("/api/v1", "gitea"),
    ("/api/v3", "github"),
    ("/2.0", "bitbucket"),
    ("/rest/api/1.0", "bitbucket-server"),
    ("/rest/api/latest", "bitbucket-server"),
    ("/query", "sourcehut"),
    ("/gogs/api/v1", "gogs"),
)
"""Where each dialect answers. Gogs shares Gitea's ``/api/v1``: the sim serves it as a Gogs installed at the sub-path
``/gogs/`` (its ``ROOT_URL``), API and git alike."""


class ForgeHTTPServer(ThreadingHTTPServer):
    """Threaded server that remembers open connections so ``stop()`` can cut idle keep-alives."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        dispatcher: Dispatcher,
        log: RequestLog,
        now: Callable[[], float],
    ) -> None:
        super().__init__(address, ForgeRequestHandler)
        self.dispatcher = dispatcher
        self.log = log
        self.now = now
        self.apis: dict[str, ForgeApi] = {}
        self.stopping = threading.Event()
        """Set by ``ForgeSim.stop``: held and trickled answers give up at once."""
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-answer are normal for a forge; only report real bugs."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


class ForgeRequestHandler(BaseHTTPRequestHandler):
    """One connection; each request is routed by path to an API flavour or to git."""

    protocol_version = "HTTP/1.1"
    server_version = "gz-tui-forge-sim"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300
    server: ForgeHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header from the forge's own clock (a test's fake clock too), as a real forge dates its answers
        by its clock: what a client reads ``expires_at`` and ``X-RateLimit-Reset`` against when clocks disagree."""
        return super().date_time_string(self.server.now() if timestamp is None else timestamp)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request stderr lines; the request log is the record."""

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_GET

    # -- routing --

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self._serve_lfs(parts.path, parts.query, headers):
            return
        git = match_git_path(parts.path)
        for prefix, provider in _API_PREFIXES:
            if parts.path == prefix or parts.path.startswith(prefix + "/"):
                self._serve_api(provider, prefix, parts.path[len(prefix) :] or "/", parts.query, headers)
                return
        if git is not None:
            self._serve_git(git[0], git[1], parts.query, headers)
            return
        self._serve_api("github", "", parts.path, parts.query, headers)

    def _serve_api(self, provider: str, prefix: str, path: str, query: str, headers: dict[str, str]) -> None:
        body = self._read_body()
        request = ApiRequest(
            method=self.command,
            path=path,
            query=parse_qsl(query, keep_blank_values=True),
            headers=headers,
            host=headers.get("host") or f"{self.server.server_address[0]!s}:{self.server.server_address[1]}",
            prefix=prefix,
            body=body,
        )
        response = self.server.dispatcher.serve_api(self.server.apis[provider], request)
        self._record(response.status, "api", response.rate_limited, "if-none-match" in headers, provider, response.credential)
        if response.drop:
            self._drop()
            return
        if response.hold:
            self._hold()
            return
        self._send(response)

    def _serve_lfs(self, path: str, query: str, headers: dict[str, str]) -> bool:
        """Git LFS: the batch API, an object, or GitHub's media host (``ELSEWHERE_HOST``); False if not LFS."""
        lfs, media = LFS_PATH.match(path), MEDIA_PATH.match(path)
        if lfs is None and media is None:
            return False
        body = self._read_body()
        dispatcher = self.server.dispatcher
        port = self.server.server_address[1]
        if media is not None:
            signature = dict(parse_qsl(query)).get("X-Amz-Signature", "")
            response = dispatcher.serve_lfs_media(int(media.group("repo")), media.group("oid"), signature)
            response.credential = "token" if headers.get("authorization") else "none"
        else:
            assert lfs is not None
            response = dispatcher.serve_lfs(
                lfs.group("repo"),
                lfs.group("oid") or lfs.group("gitlab_oid"),
                body,
                headers.get("authorization"),
                base_url=f"http://{headers.get('host') or f'127.0.0.1:{port}'}",
                media_base=f"http://{ELSEWHERE_HOST}:{port}",
            )
        self._record(response.status, "lfs", False, False, "git", response.credential)
        self._send(response)
        return True

    def _serve_git(self, repo_path: str, rest: str, query: str, headers: dict[str, str]) -> None:
        body = self._read_body()
        backend_request = BackendRequest(
            method=self.command,
            path_info="",
            query=query,
            body=body,
            content_type=headers.get("content-type"),
            content_encoding=headers.get("content-encoding"),
            git_protocol=headers.get("git-protocol"),
        )
        answer = self.server.dispatcher.serve_git(repo_path, rest, query, backend_request, headers.get("authorization"))
        if answer.response is not None:
            self._record(answer.response.status, "git", answer.response.rate_limited, False, "git", answer.credential)
            self._send(answer.response)
            return
        backend = answer.backend
        assert backend is not None
        self._record(backend.status, "git", False, False, "git", answer.credential)
        try:
            if answer.pace is None:
                self._stream(backend.status, backend.reason, backend.headers, backend.chunks())
            else:
                self._paced(backend.status, backend.reason, backend.headers, b"".join(backend.chunks()), answer.pace)
        finally:
            backend.close()

    # -- I/O --

    def _record(self, status: int, kind: str, rate_limited: bool, conditional: bool, provider: str, credential: str = "") -> None:
        """Logged before the answer is written, so a client that got it always finds it in the log."""
        self.server.log.add(
            RequestRecord(
                time=self.server.now(),
                method=self.command,
                path=redact_path(self.path),
                status=status,
                kind=kind,  # type: ignore[arg-type]
                rate_limited=rate_limited,
                conditional=conditional,
                provider=provider,  # type: ignore[arg-type]
                credential=credential,
            )
        )

    def _read_body(self) -> bytes:
        """The request body, de-chunked if needed (git sends big POSTs chunked)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers:
            self.send_header(name, value)
        streamed = response.stream is not None
        self.send_header("Content-Length", str(response.stream_length if streamed else len(response.body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if response.stream is not None:
            self._write_all(response.stream())
        elif response.body:
            self.wfile.write(response.body)

    def _write_all(self, chunks: Iterable[bytes]) -> None:
        """Write a long body chunk by chunk, stopping when the client hangs up or the forge stops."""
        for chunk in chunks:
            if self.server.stopping.is_set():
                self.close_connection = True
                return
            self.wfile.write(chunk)

    def _paced(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes, pace: str) -> None:
        """A whole pack announced with its length, then half of it and silence (``stall``), or a few bytes a second
        (``trickle``): a transfer that never finishes while the connection stays open."""
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.close_connection = True
        if pace == "stall":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self._hold()
            return
        rate = max(self.server.dispatcher.scenario.git_trickle_rate, 0.01)
        step = max(1, int(rate / 4))
        for start in range(0, len(body), step):
            self.wfile.write(body[start : start + step])
            self.wfile.flush()
            if self._client_gone(step / rate):
                return

    def _hold(self) -> None:
        """Answer nothing more and keep the connection open until the client hangs up or the forge stops."""
        self.close_connection = True
        while not self._client_gone(0.1):
            pass

    def _client_gone(self, wait: float) -> bool:
        """Wait up to ``wait`` seconds; true once the client closed its end or the forge is stopping."""
        deadline = time.monotonic() + wait
        while True:
            if self.server.stopping.is_set():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                readable, _, _ = select.select([self.connection], [], [], min(left, 0.1))
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return True
            except (OSError, ValueError):
                return True
            if readable:  # the client sent more (it must wait for this answer first): do not spin on it
                time.sleep(min(left, 0.1))

    def _stream(self, status: int, reason: str, headers: list[tuple[str, str]], chunks: Any) -> None:
        """Small bodies go out with Content-Length; large ones chunked, without buffering a whole pack."""
        iterator = iter(chunks)
        first: list[bytes] = []
        size = 0
        streaming = False
        for chunk in iterator:
            first.append(chunk)
            size += len(chunk)
            if size >= 256 * 1024:
                streaming = True
                break
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        chunked = streaming and self.request_version == "HTTP/1.1"
        if not streaming:
            self.send_header("Content-Length", str(size))
        elif chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        write = self.wfile.write
        for chunk in itertools.chain(first, iterator) if streaming else first:
            if not chunk:
                continue
            if chunked:
                write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                write(chunk)
        if chunked:
            write(b"0\r\n\r\n")

    def _drop(self) -> None:
        """Close the socket without a byte of answer (a crashed proxy, a reset connection)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
