"""The order in which the forge says no, shared by all API flavours, and the git endpoint's rules.

API: latency → injected fault → forced error → authentication → secondary limit → primary quota
→ route → conditional request (304, refunded) → lying rate-limit headers. Keeping that order in
one place is what makes each scenario option independent of the provider being simulated.

git: authentication → push refused → the repo, its wiki (an empty one answered as
``Scenario.empty_wiki`` says) or a renamed repo's old name (redirected) → throttling → the backend,
whose pack may be stalled or trickled. Every repo is served at each flavour's URL: ``/{org}/{path}.git``
(GitHub, GitLab, Gitea, Bitbucket Cloud), Bitbucket Data Center's ``/scm/{key}/{slug}.git`` (``/scm/~user/…``
for a user's), where Basic auth must name the token's own user (project and repository tokens are Bearer only),
Gogs's ``/gogs/{owner}/{name}.git`` and Sourcehut's ``/~{user}/{name}``, which takes no credential at all (public
repos only: Sourcehut serves private ones over ssh).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gz_tui.forge_sim.api_common import TOKEN_USER, ApiRequest, ForgeApi, Response, etag_matches, weak_etag
from gz_tui.forge_sim.app_auth import AppAuthority
from gz_tui.forge_sim.catalog import WIKI_SUFFIX, Catalog, RepoMeta
from gz_tui.forge_sim.git_http import BackendRequest, BackendResponse, run_backend
from gz_tui.forge_sim.lfs import LFS_TYPE, batch_answer, media_signature, object_path
from gz_tui.forge_sim.limits import Limiter
from gz_tui.forge_sim.pastes import Pastes
from gz_tui.forge_sim.repos import RepoStore
from gz_tui.forge_sim.scenario import Scenario

_FAULT_BODIES = {
    502: b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
    503: b"<html><body><h1>503 Service Unavailable</h1>No server is available to handle this request.</body></html>\n",
}
_TEXT = "text/plain; charset=utf-8"
ATLASSIAN_API_TOKEN_USER = "x-bitbucket-api-token-auth"
"""git's user name with a Bitbucket Cloud API token (the forge's token written ``EMAIL:TOKEN``)."""
DATA_CENTER_GIT = "scm/"
GOGS_GIT = "gogs/"
"""The sim's Gogs is installed at ``/gogs/``: its clone URLs are ``/gogs/{owner}/{name}.git``."""


def is_app_route(path: str) -> bool:
    """GitHub's routes that take the app's JWT: ``/app...``, ``/orgs/{org}/installation``, ``/users/{user}/installation``."""
    parts = path.strip("/").split("/")
    return parts[0] == "app" or (len(parts) == 3 and parts[0] in ("orgs", "users") and parts[2] == "installation")


def fault_response(status: int) -> Response:
    """What a proxy in front of a forge answers: HTML, not the forge's JSON."""
    return Response(status, _FAULT_BODIES[status], content_type="text/html")


GitPace = Literal["stall", "trickle"]
_NO_REFS = b"001e# service=git-upload-pack\n0000"
"""Gitea 1.15's ``info/refs`` for a wiki never written: the service line and a flush, then nothing (its
``git upload-pack --advertise-refs`` fails on the missing directory and Gitea writes what it printed: nothing)."""
_NO_CACHE = [
    ("Expires", "Fri, 01 Jan 1980 00:00:00 GMT"),
    ("Pragma", "no-cache"),
    ("Cache-Control", "no-cache, max-age=0, must-revalidate"),
]


@dataclass(slots=True)
class GitAnswer:
    """Either a complete small ``response`` or a running backend to stream (at ``pace``, if the scenario slows it)."""

    response: Response | None = None
    backend: BackendResponse | None = None
    credential: str = ""
    """The credential the request carried, by label (see ``Response.credential``)."""
    pace: GitPace | None = None
    """``stall``: half the pack, then silence with the connection open; ``trickle``: ``Scenario.git_trickle_rate``."""


class Dispatcher:
    """Applies the scenario to API and git requests; owns no sockets."""

    def __init__(
        self,
        scenario: Scenario,
        token: str | None,
        limiter: Limiter,
        catalog: Catalog,
        store: RepoStore,
        app: AppAuthority | None = None,
        pastes: Pastes | None = None,
    ) -> None:
        self.scenario = scenario
        self.token = token
        self.limiter = limiter
        self.catalog = catalog
        self.store = store
        self.app = app
        """A GitHub App the forge knows: its JWTs open the app routes, its installation tokens everything else."""
        self.pastes = pastes
        """Gists and snippets, each served at its own git URL (``forge_sim.pastes``)."""

    def credential_of(self, api: ForgeApi, request: ApiRequest) -> tuple[bool, str, bool]:
        """(accepted, label, anonymous) of the credential an API request carries: an app JWT on the app routes, an
        installation token (refused once expired), the forge's token, or none (accepted when the forge has no token).
        With ``Scenario.bad_token_as_anonymous`` a wrong or missing token is accepted as nobody."""
        authorization = request.header("authorization")
        if self.app is not None and api.provider == "github":
            if is_app_route(request.path):
                verdict = self.app.verify_jwt(authorization)
                return verdict == "jwt", verdict, False
            label = self.app.label_header(authorization)
            if label is not None:
                return not label.startswith("expired"), label, False
        carried = bool(authorization or request.header("private-token"))
        if self.token is None:
            return True, "token" if carried else "none", False
        if api.authorized(request, self.token):
            return True, "token", False
        if self.scenario.bad_token_as_anonymous:
            return True, "anonymous" if carried else "none", True
        return False, "rejected", False

    # -- API --

    def serve_api(self, api: ForgeApi, request: ApiRequest) -> Response:
        response = self._serve_api(api, request)
        if not response.drop:
            response.headers = self.limiter.lie(response.headers, response.rate_limited)
        return response

    def _serve_api(self, api: ForgeApi, request: ApiRequest) -> Response:
        scenario = self.scenario
        if scenario.latency > 0:
            time.sleep(scenario.latency)
        fault = self.limiter.draw_fault()
        if fault == "drop":
            return Response(0, drop=True)
        if fault is not None:
            return fault_response(fault)
        if scenario.error_status:
            return api.error(request, scenario.error_status)
        accepted, credential, anonymous = self.credential_of(api, request)
        if not accepted:
            refused = api.unauthorized(request)
            refused.credential = credential
            return refused
        request.anonymous = anonymous
        request.credential = credential
        response = self._answer(api, request)
        response.credential = credential
        return response

    def _answer(self, api: ForgeApi, request: ApiRequest) -> Response:
        scenario = self.scenario
        if self.limiter.secondary_hit():
            limited = api.secondary_limited(request, scenario.secondary_retry_after)
            limited.rate_limited = True
            return limited
        ticket = self.limiter.reserve(api.provider, api.counts_quota(request))
        if ticket.blocked:
            limited = api.primary_limited(request, ticket.state, self.limiter.retry_after(ticket.state))
            limited.rate_limited = True
            return limited
        response = api.handle(request, ticket.state)
        state = ticket.state
        if response.cacheable and response.status == 200:
            etag = weak_etag(response.body)
            if etag_matches(request.header("if-none-match"), etag):
                state = self.limiter.refund(ticket)
                return Response(304, b"", [*api.rate_headers(state), ("ETag", etag)], content_type=None)
            response.headers.append(("ETag", etag))
        response.headers += api.rate_headers(state)
        if response.on_served is not None:
            response.on_served()
        return response

    # -- git --

    def git_credential(self, authorization: str | None, *, data_center: bool = False) -> tuple[bool, str]:
        """(accepted, label) of the credential a git request carries (see :meth:`credential_of`)."""
        if self.app is not None:
            label = self.app.label_header(authorization)
            if label is not None:
                return not label.startswith("expired"), label
        if self.token is None:
            return True, "token" if authorization else "none"
        accepted = self.git_authorized(authorization, data_center=data_center)
        return accepted, "token" if accepted else "rejected"

    def git_authorized(self, authorization: str | None, *, data_center: bool = False) -> bool:
        """``Bearer TOKEN``, or Basic: ``anyuser:TOKEN``; for a token written ``USER:SECRET`` (an Atlassian API token),
        ``x-bitbucket-api-token-auth:SECRET`` or ``forge-sim-user:SECRET``. At Data Center's URLs Basic must be
        ``forge-sim-user:TOKEN`` (the token owner's own user), or ``USER:SECRET`` as written."""
        token = self.token
        if token is None:
            return True
        scheme, _, credential = (authorization or "").strip().partition(" ")
        if scheme.lower() == "bearer":
            return credential.strip() == token
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(credential.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, password = decoded.partition(":")
        if ":" in token:
            if data_center:
                return decoded == token
            return password == token.partition(":")[2] and user in (ATLASSIAN_API_TOKEN_USER, TOKEN_USER)
        if data_center:
            return user == TOKEN_USER and password == token
        return password == token

    def serve_git(self, repo_path: str, rest: str, query: str, request: BackendRequest, authorization: str | None) -> GitAnswer:
        org = self.catalog.org.lower()
        data_center = repo_path.startswith(DATA_CENTER_GIT) and org != DATA_CENTER_GIT[:-1]
        gogs = repo_path.startswith(GOGS_GIT) and org != GOGS_GIT[:-1]
        sourcehut = repo_path.startswith("~")
        accepted, credential = self.git_credential(authorization, data_center=data_center)
        public_only = sourcehut
        if sourcehut:  # git.sr.ht takes no token over https: public repos are served to anyone, private ones to no one
            accepted, credential = True, "token" if authorization else "none"
        elif not accepted and not authorization and self.scenario.bad_token_as_anonymous:
            # public repos to nobody in particular; a wrong credential is still refused, as GitHub and Gitea do over git
            accepted, credential, public_only = True, "none", True
        if self.scenario.git_latency > 0:
            time.sleep(self.scenario.git_latency)
        prefix = ""
        if data_center:
            prefix, repo_path = f"/{DATA_CENTER_GIT[:-1]}", repo_path.removeprefix(DATA_CENTER_GIT)
        if gogs:
            prefix, repo_path = f"/{GOGS_GIT[:-1]}", repo_path.removeprefix(GOGS_GIT)
        answer = self._serve_git(repo_path, rest, query, request, accepted, prefix, tilde=data_center or sourcehut, public_only=public_only)
        answer.credential = credential
        return answer

    def _serve_git(
        self,
        repo_path: str,
        rest: str,
        query: str,
        request: BackendRequest,
        accepted: bool,
        prefix: str = "",
        *,
        tilde: bool = False,
        public_only: bool = False,
    ) -> GitAnswer:
        if not accepted:
            denied = Response(
                401,
                b"Authentication required\n",
                [("WWW-Authenticate", 'Basic realm="gz-tui forge"')],
                content_type=_TEXT,
            )
            return GitAnswer(denied)
        if rest == "/git-receive-pack" or "service=git-receive-pack" in query:
            return GitAnswer(Response(403, b"Pushing is not allowed on this forge\n", content_type=_TEXT))
        if self.pastes is not None and not prefix and Pastes.is_paste_path(repo_path):
            return self._serve_paste(repo_path, rest, request, public_only=public_only)
        named, _, path = repo_path.partition("/")
        owner = named.removeprefix("~") if tilde else named  # Data Center (a user's personal project), Sourcehut: ~USER
        if not path:
            return GitAnswer(_git_not_found())
        meta = self.catalog.find_servable(owner, path)
        if meta is not None and public_only and meta.private:
            return GitAnswer(_git_not_found())
        wiki = meta is None and path.endswith(WIKI_SUFFIX)
        if wiki:  # NAME.wiki.git: served when it has pages; an empty one answers as Scenario.empty_wiki says
            meta = self.catalog.find_wiki(owner, path)
            if meta is not None and meta.wiki == "empty":
                return GitAnswer(self._empty_wiki(rest))
        if meta is None:
            moved = self.catalog.find_moved_servable(owner, path.removesuffix(WIKI_SUFFIX) if wiki else path)
            if moved is None:
                return GitAnswer(_git_not_found())
            if "/" not in path:  # GitHub's and Gitea's URL: redirected to the new name (GitLab's group URL is served)
                suffix = WIKI_SUFFIX if wiki else ""
                location = f"{prefix}/{named}/{moved.name}{suffix}.git{rest}" + (f"?{query}" if query else "")  # git resolves it
                body = b"Moved Permanently\n"
                return GitAnswer(Response(self.scenario.git_redirect_status, body, [("Location", location)], content_type=_TEXT))
            meta = moved if not wiki or moved.wiki == "present" else None
            if meta is None:
                return GitAnswer(self._empty_wiki(rest) if moved.wiki == "empty" else _git_not_found())
        if rest == "/info/refs":
            throttled = self.limiter.draw_git_throttle()
            if throttled is not None:
                headers = [("Retry-After", "1")] if throttled == 429 else []
                body = b"Too many requests\n" if throttled == 429 else b"Service unavailable\n"
                return GitAnswer(Response(throttled, body, headers, content_type=_TEXT, rate_limited=throttled == 429))
        name = f"{meta.name}{WIKI_SUFFIX}" if wiki else meta.name
        disk = f"{meta.disk}{WIKI_SUFFIX}" if wiki else meta.disk
        path_on_disk = self.store.ensure(meta.owner or self.catalog.org, disk, meta.created)
        request.path_info = f"/{path_on_disk.relative_to(self.store.root).as_posix()}{rest}"
        return GitAnswer(backend=run_backend(self.store.root, request), pace=self._pace(name, rest, request.body))

    def _serve_paste(self, repo_path: str, rest: str, request: BackendRequest, *, public_only: bool) -> GitAnswer:
        """A gist (secret ones too: GitHub serves them to anyone with the URL) or a snippet (a private one only to a
        caller the forge lets in)."""
        assert self.pastes is not None

        def project_at(path: str) -> RepoMeta | None:
            owner, _, rest_of_path = path.partition("/")
            return self.catalog.find_servable(owner, rest_of_path) if rest_of_path else None

        paste = self.pastes.by_git_path(repo_path, project_at)
        if paste is None or (public_only and not paste.public and paste.kind == "snippet"):
            return GitAnswer(_git_not_found())
        folder, name = paste.disk
        path_on_disk = self.store.ensure(folder, name, paste.created)
        request.path_info = f"/{path_on_disk.relative_to(self.store.root).as_posix()}{rest}"
        return GitAnswer(backend=run_backend(self.store.root, request), pace=self._pace(paste.id, rest, request.body))

    def _empty_wiki(self, rest: str) -> Response:
        shape = self.scenario.empty_wiki
        if shape == "no_refs":
            if rest == "/info/refs":
                return Response(200, _NO_REFS, list(_NO_CACHE), content_type="application/x-git-upload-pack-advertisement")
            return Response(200, b"", list(_NO_CACHE), content_type="application/x-git-upload-pack-result")
        if shape == "server_error":
            return Response(500, b"Internal Server Error\n", content_type=_TEXT)
        return _git_not_found()

    def _pace(self, name: str, rest: str, body: bytes) -> GitPace | None:
        """The pace of a pack transfer (a fetch's ``git-upload-pack`` POST, not protocol v2's ``ls-refs``)."""
        if rest != "/git-upload-pack" or b"command=ls-refs" in body:
            return None
        if name in self.scenario.git_stall:
            return "stall"
        if name in self.scenario.git_trickle:
            return "trickle"
        return None

    # -- Git LFS --

    def serve_lfs(
        self, repo_path: str, oid: str | None, body: bytes, authorization: str | None, base_url: str, media_base: str
    ) -> Response:
        """The batch API (``oid`` None) or one object of the repo at ``/{repo_path}.git``, authenticated as git is
        (a private repo to its token only); a missing repo or object is 404, a refused credential 401."""
        accepted, credential = self.git_credential(authorization)
        owner, _, path = repo_path.partition("/")
        meta = self.catalog.find_servable(owner, path) if path else None
        if not accepted or (meta is not None and meta.private and self.token is not None and credential != "token"):
            refused = _lfs_error(401, "Credentials needed")
            refused.headers.append(("LFS-Authenticate", 'Basic realm="gz-tui forge"'))
            refused.credential = credential
            return refused
        if meta is None:
            answer = _lfs_error(404, "Repository not found")
        else:
            disk = self.disk_path(meta)
            if oid is None:
                status, payload = batch_answer(
                    body,
                    repo=disk,
                    repo_id=meta.id,
                    repo_url=f"{base_url}/{repo_path}.git",
                    media_base=media_base,
                    style=self.scenario.lfs_style,
                    authorization=authorization,
                )
                answer = Response(status, payload, content_type=LFS_TYPE)
            else:
                answer = _lfs_object(object_path(disk, oid))
        answer.credential = credential
        return answer

    def serve_lfs_media(self, repo_id: int, oid: str, signature: str) -> Response:
        """GitHub's media host: a presigned object URL, served to whoever holds the signature (no credential)."""
        meta = self.catalog.by_id(repo_id)
        if meta is None or signature != media_signature(repo_id, oid):
            return Response(403, b"<Error><Code>AccessDenied</Code></Error>", content_type="application/xml")
        return _lfs_object(object_path(self.disk_path(meta), oid))

    def disk_path(self, meta: RepoMeta) -> Path:
        return self.store.ensure(meta.owner or self.catalog.org, meta.disk, meta.created)


def _lfs_error(status: int, message: str) -> Response:
    return Response(status, json.dumps({"message": message}).encode(), content_type=LFS_TYPE)


def _lfs_object(path: Path) -> Response:
    try:
        data = path.read_bytes()
    except OSError:
        return _lfs_error(404, "Object does not exist")
    return Response(200, data, content_type="application/octet-stream")


def _git_not_found() -> Response:
    return Response(404, b"Repository not found\n", content_type=_TEXT)
