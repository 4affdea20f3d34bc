"""``ForgeSim``: the in-process handle tests, the demo mode and benchmarks start and steer."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from gz_tui.clock import SYSTEM_CLOCK, Clock
from gz_tui.forge_sim.api_common import TOKEN_USER, Site
from gz_tui.forge_sim.app_auth import AppAuthority, GitHubApp, MintFailure
from gz_tui.forge_sim.bitbucket_api import BitbucketApi, project_key
from gz_tui.forge_sim.bitbucket_server_api import BitbucketServerApi
from gz_tui.forge_sim.catalog import Catalog, RepoMeta
from gz_tui.forge_sim.dispatch import Dispatcher
from gz_tui.forge_sim.gitea_api import GiteaApi
from gz_tui.forge_sim.github_api import GitHubApi
from gz_tui.forge_sim.gitlab_api import GitLabApi
from gz_tui.forge_sim.gogs_api import SUBPATH as GOGS_SUBPATH
from gz_tui.forge_sim.gogs_api import GogsApi
from gz_tui.forge_sim.lfs import ELSEWHERE_HOST, LfsPlan
from gz_tui.forge_sim.limits import Limiter
from gz_tui.forge_sim.pastes import PasteMeta, Pastes
from gz_tui.forge_sim.records import RequestLog, RequestRecord
from gz_tui.forge_sim.repos import RepoStore
from gz_tui.forge_sim.scenario import Scenario
from gz_tui.forge_sim.server import ForgeHTTPServer
from gz_tui.forge_sim.sourcehut_api import SourcehutApi

ProviderName = Literal["github", "gitlab", "gitea", "bitbucket", "bitbucket-server", "sourcehut", "gogs"]
PROVIDERS: tuple[ProviderName, ...] = ("github", "gitlab", "gitea", "bitbucket", "bitbucket-server", "sourcehut", "gogs")
WikiState = Literal["present", "empty", "off"]


class ForgeSim:
    """A GitHub/GitLab/Gitea look-alike on 127.0.0.1 serving ``repos`` generated repos over real git.

    Metadata is generated up front (cheap); bare repos appear under ``root`` only when first
    needed. All three API flavours and git share one catalog, so ``head_of(name)`` is what any
    clone URL of that repo yields.
    """

    def __init__(
        self,
        root: Path,
        org: str = "acme",
        repos: int = 30,
        token: str | None = None,
        scenario: Scenario | None = None,
        clock: Clock = SYSTEM_CLOCK,
        owner_kind: str = "org",
        port: int = 0,
        host: str = "127.0.0.1",
        github_app: GitHubApp | None = None,
    ) -> None:
        if owner_kind not in ("org", "user"):
            raise ValueError(f"owner_kind must be 'org' or 'user', not {owner_kind!r}")
        self.root = Path(root)
        self.org = org
        self.token = token
        self.scenario = scenario or Scenario()
        self.clock = clock
        self.owner_kind = owner_kind
        self._host = host
        self._port = port
        self._catalog = Catalog(org, repos, self.scenario.hostile)
        self._lfs = lfs_plan(self._catalog, self.scenario)
        self._store = RepoStore(
            self.root, self.scenario.repo_size_kb, self.scenario.seed, heavy_history=self.scenario.heavy_history, lfs=self._lfs
        )
        self._pastes = Pastes(self._catalog, self.scenario.gists, self.scenario.snippets, self.scenario.personal_snippets)
        self._limiter = Limiter(self.scenario, clock)
        self._log = RequestLog()
        self.app_authority = AppAuthority(github_app, clock) if github_app is not None else None
        """The GitHub App the forge knows (its JWTs verified, its installation tokens issued and expired), if any."""
        self._server: ForgeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    def start(self) -> Self:
        """Bind an (ephemeral by default) port and serve from a daemon thread."""
        if self._server is not None:
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        dispatcher = Dispatcher(self.scenario, self.token, self._limiter, self._catalog, self._store, self.app_authority, self._pastes)
        server = ForgeHTTPServer((self._host, self._port), dispatcher, self._log, self.clock.now)
        self._port = int(server.server_address[1])  # a stop() and start() again serves on the same port
        hostport = f"{self._host}:{self._port}"
        self._lfs.elsewhere_base = f"http://{ELSEWHERE_HOST}:{self._port}"
        site = Site(base_url=f"http://{hostport}", hostport=hostport, org=self.org, owner_kind=self.owner_kind)
        server.apis = {
            "github": GitHubApi(site, self._catalog, self.scenario, self.app_authority, self._pastes),
            "gitlab": GitLabApi(site, self._catalog, self.scenario, self._pastes),
            "gitea": GiteaApi(site, self._catalog, self.scenario),
            "bitbucket": BitbucketApi(site, self._catalog, self.scenario),
            "bitbucket-server": BitbucketServerApi(site, self._catalog, self.scenario, self.clock),
            "sourcehut": SourcehutApi(site, self._catalog, self.scenario),
            "gogs": GogsApi(site, self._catalog, self.scenario),
        }
        self._server = server
        self._site = site
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="forge-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, cut open keep-alive connections, release the port."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- addresses --

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("ForgeSim is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the GitHub API root (also served under ``/api/v3``)."""
        return f"http://{self._host}:{self.port}"

    def api_url(self, provider: str) -> str:
        """API root for a provider client: the base URL (the GitLab, Gitea and Bitbucket clients add ``/api/v4``,
        ``/api/v1``, ``/2.0`` or ``/rest/api/1.0``, the Sourcehut client ``/query``); Gogs is installed at the
        sub-path ``/gogs`` (``/api/v1`` is Gitea's)."""
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}")
        return self.base_url + GOGS_SUBPATH if provider == "gogs" else self.base_url

    def git_url(self, name: str, provider: str = "github") -> str:
        """HTTP clone URL; a GitLab path (``platform/core/x``) gives the GitLab-style URL of the same repo,
        ``provider="bitbucket-server"`` Data Center's ``/scm/{key}/{slug}.git``, ``"sourcehut"`` ``/~{user}/{name}``
        and ``"gogs"`` ``/gogs/{owner}/{name}.git``."""
        meta = self._meta(name)
        if provider == "sourcehut" and meta.owner is None:
            return f"{self.base_url}/~{self.org}/{meta.name}"
        if provider == "gogs":
            return f"{self.base_url}{GOGS_SUBPATH}/{meta.owner or self.org}/{meta.name}.git"
        if provider == "bitbucket-server" and meta.owner is None:
            key = f"~{self.org}" if self.owner_kind == "user" else self.org
            return f"{self.base_url}/scm/{key.lower()}/{meta.name}.git"
        if meta.owner is not None:
            return f"{self.base_url}/{meta.owner}/{meta.name}.git"
        path = name if "/" in name else meta.name
        return f"{self.base_url}/{self.org}/{path}.git"

    # -- request log --

    def requests(self) -> list[RequestRecord]:
        return self._log.snapshot()

    def api_requests(self) -> list[RequestRecord]:
        return [r for r in self._log.snapshot() if r.kind == "api"]

    def clear_log(self) -> None:
        self._log.clear()

    # -- repositories --

    def repo_names(self, provider: str = "github") -> list[str]:
        """Listed, clonable repos in creation order (hostile entries excluded, ``.github`` kept).

        GitHub/Gitea (and a GitLab user's namespace): the repo name; ``provider="gitlab"``: the path below the top group;
        ``provider="sourcehut"``: public and unlisted repos only (git.sr.ht serves private ones over ssh, not https).
        """
        repos = [m for m in self._catalog.repos() if not m.hostile and m.owner is None]
        if provider == "sourcehut":  # its private repos are served over ssh only
            repos = [m for m in repos if not m.private]
        if provider == "gitlab" and self.owner_kind == "org":
            return [m.gitlab_rel_path for m in repos]
        return [m.name for m in repos]

    def project_of(self, name: str) -> str:
        """The key of the Bitbucket Cloud project a repo is in (``MAIN``, ``PLATFORM`` or ``TOOLS``)."""
        return project_key(self._meta(name))

    def topics_of(self, name: str) -> tuple[str, ...]:
        """The topics every API flavour lists for a repo."""
        return self._meta(name).topics

    def language_of(self, name: str) -> str | None:
        """The language every API flavour gives a repo (GitLab: from ``/projects/:id/languages``)."""
        return self._meta(name).language

    def hostile_names(self) -> list[str]:
        """Names of the hostile listing entries (empty unless ``Scenario.hostile``)."""
        return [m.name for m in self._catalog.repos() if m.hostile]

    def head_of(self, name: str) -> str:
        """Sha of the default branch as the forge serves it (creates the bare repo if needed)."""
        meta = self._meta(name)
        return self._store.head(self._disk(meta))

    def is_private(self, name: str) -> bool:
        """Whether the forge shows the repo only to a caller it lets in (anonymous callers never see it)."""
        return self._meta(name).private

    def repo_id(self, name: str) -> int:
        """The forge's id of a repo (what ``/repositories/{id}`` and GitLab's ``/projects/{id}`` take)."""
        return self._meta(name).id

    def push_commit(self, name: str) -> str:
        """Add a commit on ``main`` and move the listings' change signals as the real forges do: ``pushed_at`` and
        ``updated_at`` to the clock's current whole second (two pushes within one second leave them unchanged),
        GitLab's ``last_activity_at`` only outside ``Scenario.gitlab_activity_hold``."""
        meta = self._meta(name)
        when = int(self.clock.now())
        sha = self._store.push(meta.owner or self.org, meta.disk, meta.created, when)
        self._catalog.touch(meta, when, self.scenario.gitlab_activity_hold)
        return sha

    def lfs_files_of(self, name: str) -> dict[str, bytes]:
        """The Git LFS files of the repo's default branch (path in the tree → contents); empty without LFS."""
        meta = self._meta(name)
        return self._store.lfs_files(meta.owner or self.org, meta.disk, meta.created)

    def push_lfs(self, name: str, data: bytes) -> str:
        """Push a commit adding one more LFS file holding ``data`` (signals move as for :meth:`push_commit`); its oid."""
        meta = self._meta(name)
        when = int(self.clock.now())
        oid = self._store.push_lfs(meta.owner or self.org, meta.disk, meta.created, when, data)
        self._catalog.touch(meta, when, self.scenario.gitlab_activity_hold)
        return oid

    def lfs_requests(self) -> list[RequestRecord]:
        """The Git LFS requests (batch API, objects, the media host) served so far."""
        return [r for r in self._log.snapshot() if r.kind == "lfs"]

    def star(self, *names: str) -> None:
        """The token's user (:attr:`token_user`) stars these repos, in this order, now (by the forge's clock)."""
        for name in names:
            self._catalog.star(self._meta(name), int(self.clock.now()))

    def unstar(self, name: str) -> None:
        self._catalog.unstar(self._meta(name))

    def refs_of(self, name: str) -> dict[str, str]:
        """Every ref of the repo as the forge serves it (``refs/heads/main``, ``refs/tags/v1.0``, …) → commit."""
        meta = self._meta(name)
        return self._store.refs(meta.owner or self.org, meta.disk, meta.created)

    def set_branch(self, name: str, branch: str, sha: str | None, *, quiet: bool = False) -> None:
        """Create or move ``branch`` to ``sha`` (a commit the repo has), or delete it (None); ``pushed_at`` moves.

        ``quiet``: the change signals stay where they are, as for a ref the server moves itself (a pull mirror's
        sync, a restored backup, a forge that fails to record the push): only ``git ls-remote`` can tell."""
        meta = self._meta(name)
        self._store.set_ref(meta.owner or self.org, meta.disk, meta.created, f"refs/heads/{branch}", sha)
        if not quiet:
            self._catalog.touch(meta, self.clock.now(), self.scenario.gitlab_activity_hold)

    def point_head_at(self, name: str, branch: str) -> None:
        """Make the repo's HEAD name ``branch`` (the listings' ``default_branch`` too), even a branch it does not have:
        git then clones no checkout ("remote HEAD refers to nonexistent ref"), as from a forge whose default branch
        was deleted or renamed behind its HEAD."""
        meta = self._meta(name)
        self._store.set_head(meta.owner or self.org, meta.disk, meta.created, branch)
        self._catalog.change(meta, default_branch=branch)

    def wiki_of(self, name: str) -> str:
        """``present`` (served at ``NAME.wiki.git``), ``empty`` (enabled, never written: answered as
        ``Scenario.empty_wiki`` says) or ``off`` (disabled: not found)."""
        return self._meta(name).wiki

    def set_wiki(self, name: str, state: WikiState) -> None:
        """Give a repo's wiki that state (``has_wiki``/``wiki_enabled`` in the listings follow)."""
        if state not in ("present", "empty", "off"):
            raise ValueError(f"wiki state must be present, empty or off, not {state!r}")
        self._catalog.change(self._meta(name), wiki=state)

    def add_repo(self, name: str) -> None:
        """New repo, newest by creation; ``sub/group/name`` places it in that GitLab subgroup. A renamed repo's old
        name stops redirecting once a new repo takes it, as on GitHub and Gitea."""
        self._catalog.add(name)

    def remove_repo(self, name: str) -> None:
        """Delist a repo (API and git both stop serving it, under its old names too); its directory stays on disk.

        Offset-paginated listings shift at once: a walk already past the repo's page sees every later repo one
        place earlier, so one of them is never seen in that walk, and the totals (``X-Total``, ``X-Total-Count``,
        ``public_repos`` + ``total_private_repos``) count one fewer."""
        try:
            self._catalog.remove(name)
        except KeyError:
            raise KeyError(f"no such repository: {name!r}") from None

    def remove_repo_after_page(self, page: int, name: str | None = None) -> None:
        """Delete ``name`` (None: the first repo of that listing, which is behind the cursor) as soon as any
        flavour's repo listing has served its page ``page``: the deterministic "deleted while the listing pages"."""
        if name is not None:
            self._meta(name)
        self._catalog.remove_after_page(page, name)

    def rename_repo(self, old: str, new: str) -> int:
        """Rename a repo (same id, history and GitLab group) and return its id. Every listing shows the new name; the
        old one answers as each forge does: GitHub ``/repos/{org}/{old}`` 301 to ``/repositories/{id}``, Gitea 307
        to ``/repos/{org}/{new}``, GitLab ``/projects/{org%2Fold}`` 301 to ``/projects/{id}``; git at the old URL
        redirects (``Scenario.git_redirect_status``), and at an old GitLab subgroup URL is served in place."""
        try:
            return self._catalog.rename(old, new).id
        except KeyError:
            raise KeyError(f"no such repository: {old!r}") from None

    def recreate_repo(self, name: str) -> int:
        """Delete a repo and create another of the same name (a "start over"): a new id, newest by creation, and a
        history of its own (another first commit) served by git at the same URL. Returns the new id."""
        try:
            return self._catalog.recreate(name).id
        except KeyError:
            raise KeyError(f"no such clonable repository: {name!r}") from None

    # -- gists and snippets --

    def gist_ids(self) -> list[str]:
        """The forge's user's gists (secret ones too), oldest first."""
        return [m.id for m in self._pastes.gists()]

    def snippet_ids(self, project: str | None = None) -> list[str]:
        """A project's snippets (``project`` as :meth:`repo_id` takes it), or the personal ones (None), oldest first."""
        return [m.id for m in self._pastes.snippets(self._meta(project).id if project is not None else None)]

    def all_snippet_ids(self) -> list[str]:
        """Every snippet of every listed project, then the personal ones."""
        projects = {m.id for m in self._catalog.repos()}
        return [m.id for m in self._pastes.snippets_all() if m.project_id is None or m.project_id in projects]

    def is_public_paste(self, kind: str, paste_id: str) -> bool:
        return self._paste(kind, paste_id).public

    def add_paste(self, kind: str, project: str | None = None) -> str:
        """A new gist (``kind="gist"``) or snippet (of ``project``, or a personal one), created now; its id."""
        project_id = self._meta(project).id if project is not None else None
        return self._pastes.add(kind, int(self.clock.now()), project_id).id

    def edit_paste(self, kind: str, paste_id: str) -> str:
        """A commit to a gist or snippet (as an edit in the forge's editor makes): ``updated_at`` moves to now."""
        meta = self._paste(kind, paste_id)
        when = int(self.clock.now())
        folder, name = meta.disk
        sha = self._store.push(folder, name, meta.created, when)
        self._pastes.touch(meta, when)
        return sha

    def paste_head(self, kind: str, paste_id: str) -> str:
        meta = self._paste(kind, paste_id)
        folder, name = meta.disk
        return self._store.head(self._store.ensure(folder, name, meta.created))

    def remove_paste(self, kind: str, paste_id: str) -> None:
        """Delete a gist or snippet: API (listings and lookups: 404) and git stop serving it; its directory stays."""
        self._pastes.remove(self._paste(kind, paste_id))

    def _paste(self, kind: str, paste_id: str) -> PasteMeta:
        meta = self._pastes.find(kind, paste_id)
        if meta is None:
            raise KeyError(f"no such {kind}: {paste_id!r}")
        return meta

    # -- credentials --

    @property
    def token_user(self) -> str:
        """Whom the forge's token belongs to: the login (GitLab ``username``) every "who am I" answers."""
        return TOKEN_USER

    def fail_app_tokens(self, failure: MintFailure) -> None:
        """Make the GitHub App's installation-token endpoint answer ``failure`` (a status such as 500) or hang
        (``"hang"``: no answer, connection held open) until called again with None. Needs ``github_app``."""
        if self.app_authority is None:
            raise RuntimeError("this forge knows no GitHub App")
        self.app_authority.fail_mints(failure)

    def app_token_requests(self) -> int:
        """Requests that reached the installation-token endpoint so far (refused, failed and hung ones included)."""
        return sum(1 for r in self._log.snapshot() if r.method == "POST" and _is_mint_path(r.path))

    def _meta(self, name: str) -> RepoMeta:
        meta = self._catalog.find(name)
        if meta is None or not meta.servable:
            raise KeyError(f"no such clonable repository: {name!r}")
        return meta

    def _disk(self, meta: RepoMeta) -> Path:
        return self._store.ensure(meta.owner or self.org, meta.disk, meta.created)


def lfs_plan(catalog: Catalog, scenario: Scenario) -> LfsPlan:
    """Which repos carry LFS files: the first ``Scenario.lfs_repos`` generated ones and the ``lfs_elsewhere`` ones."""
    generated = [m for m in catalog.repos() if not m.hostile and m.owner is None]
    elsewhere = {m.disk for m in generated if m.name in scenario.lfs_elsewhere}
    names = frozenset(m.disk for m in generated[: scenario.lfs_repos])
    return LfsPlan(names - elsewhere, scenario.lfs_files, scenario.lfs_kb, scenario.seed, frozenset(elsewhere))


def _is_mint_path(path: str) -> bool:
    parts = path.split("?", 1)[0].strip("/").split("/")
    if parts[:2] == ["api", "v3"]:
        parts = parts[2:]
    return len(parts) == 4 and parts[0] == "app" and parts[1] == "installations" and parts[3] == "access_tokens"
