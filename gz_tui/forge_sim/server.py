"""HTTP/1.1 plumbing: a keep-alive ThreadingHTTPServer that routes to the API flavours or git.

Only bytes on the wire live here (request bodies incl. chunked ones, responses, streaming,
dropped connections, the request log); what to answer is decided in ``dispatch``.
"""

from __future__ import annotations

import itertools
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from gz_tui.forge_sim.api_common import ApiRequest, ForgeApi, Response
from gz_tui.forge_sim.dispatch import Dispatcher
from gz_tui.forge_sim.git_http import BackendRequest, match_git_path
from gz_tui.forge_sim.records import RequestLog, RequestRecord, redact_path

_API_PREFIXES = (("/api/v4", "gitlab"), ("/api/v1", "gitea"), ("/api/v3", "github"))


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
        self._read_body()
        request = ApiRequest(
            method=self.command,
            path=path,
            query=parse_qsl(query, keep_blank_values=True),
            headers=headers,
            host=headers.get("host") or f"{self.server.server_address[0]!s}:{self.server.server_address[1]}",
            prefix=prefix,
        )
        response = self.server.dispatcher.serve_api(self.server.apis[provider], request)
        self._record(response.status, "api", response.rate_limited, "if-none-match" in headers, provider, response.credential)
        if response.drop:
            self._drop()
            return
        self._send(response)

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
            self._stream(backend.status, backend.reason, backend.headers, backend.chunks())
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
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

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
