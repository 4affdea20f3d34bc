"""GitHub and GitHub Enterprise: ``/orgs/{owner}/repos``, falling back to ``/users/{owner}/repos``
(or ``/user/repos`` when the token belongs to that user, so private repos are included).

``--all`` (GitHub Enterprise): ``/repositories``, every repository available to all users of the instance, paged
"exclusively by the ``since`` parameter" (the last id seen, in ``rel="next"``: a cursor a killed run resumes from).
Its entries are short: no ``clone_url`` (``html_url`` + ``.git`` is the clone URL, checked like any other), no
``pushed_at`` (so each repo is fetched on every sync) and no ``archived``."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote, urlsplit

import httpx

from gz_tui.forges.provider import Provider, json_body, listed_text, text_field, topics_field
from gz_tui.forges.records import ProviderInfo, RemoteRepo
from gz_tui.forges.responses import error_message
from gz_tui.kinds import Affiliation, ProviderName

PER_PAGE = 100
GIST_KEY = "gist:"
"""A gist's key in the state: ``gist:ID`` never equals a repo's id (a number), whatever the state held before."""
GIST_HOST = "gist.github.com"
_SECONDARY_MARKERS = (
    "secondary rate",
    "abuse detection",
    "you have exceeded a secondary rate limit",
    "please retry your request again later",
)
AFFILIATIONS = {
    Affiliation.OWNER: "owner",
    Affiliation.MEMBER: "collaborator,organization_member",
    Affiliation.ALL: "owner,collaborator,organization_member",
}
"""``--affiliation`` in GitHub's words (``GET /user/repos?affiliation=``)."""
_QUERY = f"per_page={PER_PAGE}&sort=created&direction=asc"
"""created/asc: repos created mid-walk append at the end instead of shifting earlier pages."""


class GitHub(Provider):
    """The GitHub REST dialect (api.github.com, or ``https://HOST/api/v3`` for Enterprise)."""

    info = ProviderInfo(
        name=ProviderName.GITHUB,
        default_base_url="https://api.github.com",
        token_env_vars=("GH_TOKEN", "GITHUB_TOKEN"),
        ghorg_token_vars=("GHORG_GITHUB_TOKEN",),
        git_username="x-access-token",
        app_login=True,
        affiliation=True,
        gh_cli=True,
        anonymous_note="GitHub allows 60 API requests an hour without one (about 6,000 repos); set GH_TOKEN or pass --token",
        anonymous_note_public_only=True,
        instance_listing=True,
        starred=True,
        gists=True,
    )

    @classmethod
    def git_origin(cls, api_base: str) -> str:
        """github.com serves its API at api.github.com and git at github.com; Enterprise serves both on one host."""
        parts = urlsplit(api_base)
        if (parts.hostname or "").lower() == "api.github.com":
            return "https://github.com/"
        return super().git_origin(api_base)

    def default_headers(self) -> dict[str, str]:
        return {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def first_urls(self) -> list[str]:
        if self.instance:
            return [f"{self.base_url}/repositories"]
        name = quote(self.owner, safe="")
        if self.gists:  # public only, even to the user's own token: own_listing() has the secret ones too
            return [f"{self.base_url}/users/{name}/gists?per_page={PER_PAGE}"]
        if self.starred:  # by when starred, oldest first: a new star appends at the end instead of shifting pages
            return [f"{self.base_url}/users/{name}/starred?per_page={PER_PAGE}&sort=created&direction=asc"]
        return [f"{self.base_url}/orgs/{name}/repos?type=all&{_QUERY}", f"{self.base_url}/users/{name}/repos?type=owner&{_QUERY}"]

    def own_listing(self) -> tuple[str, str] | None:
        """``/users/X/repos`` shows only public repos, even to X's own token: X's private ones are under ``/user/repos``
        (``--affiliation`` adds the repos X is a collaborator on or a member of through an organisation)."""
        if self.gists:  # /gists: the token's user's gists, secret ones included
            return f"{self.base_url}/user", f"{self.base_url}/gists?per_page={PER_PAGE}"
        if self.starred:
            return None  # the stars are public: /users/X/starred is the whole listing, whoever asks
        affiliation = AFFILIATIONS[Affiliation(self.affiliation or Affiliation.OWNER)]
        return f"{self.base_url}/user", f"{self.base_url}/user/repos?affiliation={affiliation}&{_QUERY}"

    @property
    def own_listing_first(self) -> bool:
        return self.gists

    def own_listing_note(self) -> str:
        if self.gists:
            return f"only the public gists of {self.owner} are listed (their own token would list their secret ones too)"
        return super().own_listing_note()

    @property
    def extra_git_host(self) -> str | None:
        """github.com serves gists' git at gist.github.com (Enterprise at ``/gist/ID.git`` on its own host)."""
        if self.gists and (urlsplit(self.base_url).hostname or "").lower() == "api.github.com":
            return GIST_HOST
        return None

    def viewer_url(self) -> str | None:
        return f"{self.base_url}/user"

    def lookup_urls(self, key: str, rel_path: str) -> list[str]:
        """``/repositories/{id}``: 404 once deleted; a rename or transfer answers 200 with the name of now. A gist:
        ``/gists/{id}`` (404 once deleted); a key of the other kind is never asked about."""
        if self.gists:
            gist = key.removeprefix(GIST_KEY)
            return [f"{self.base_url}/gists/{quote(gist, safe='')}"] if key.startswith(GIST_KEY) and gist else []
        return [f"{self.base_url}/repositories/{quote(key, safe='')}"] if key.isdigit() else []

    def total_url(self) -> str | None:
        if self.instance or self.starred or self.gists:
            return None
        return f"{self.base_url}/orgs/{quote(self.owner, safe='')}"

    def star_check_url(self, key: str, rel_path: str) -> tuple[str, bool] | None:
        """``GET /user/starred/{owner}/{repo}``: 204 if the token's user stars it, 404 if not (their own token only)."""
        owner, _, name = rel_path.partition("/")
        return f"{self.base_url}/user/starred/{quote(owner, safe='')}/{quote(name, safe='')}", True

    def parse_total(self, response: httpx.Response) -> int | None:
        body = json_body(response)
        if not isinstance(body, dict):
            return None
        public = body.get("public_repos")
        private = body.get("total_private_repos")
        if not isinstance(public, int):
            return None
        return public + (private if isinstance(private, int) else 0)

    def topics_url(self, repo: RemoteRepo) -> str | None:
        """GitHub lists ``topics``; a server that does not (an old Enterprise) still answers ``/repos/{o}/{r}/topics``."""
        owner, _, name = repo.full_name.partition("/")
        return f"{self.base_url}/repos/{quote(owner, safe='')}/{quote(name, safe='')}/topics"

    def parse_topics(self, response: httpx.Response) -> tuple[str, ...]:
        body = json_body(response)
        return (topics_field(body, "names") or ()) if isinstance(body, dict) else ()

    def language_url(self, repo: RemoteRepo) -> str | None:
        return f"{self.base_url}/repositories/{quote(repo.key, safe='')}/languages"

    def parse_repo(self, item: object) -> RemoteRepo | None:
        if self.gists:
            return parse_gist(item)
        repo = parse_repo(item)
        if repo is not None and self.starred:
            return replace(repo, rel_path=f"{repo.owner}/{repo.rel_path}" if repo.owner else repo.rel_path)  # DEST/OWNER/NAME
        if repo is not None and self.instance:
            html = text_field(item, "html_url") if isinstance(item, dict) else None
            clone_url = repo.clone_url or (f"{html.removesuffix('/')}.git" if html else "")
            return replace(repo, clone_url=clone_url, rel_path=f"{repo.owner}/{repo.rel_path}" if repo.owner else repo.rel_path)
        if (
            repo is not None
            and self.affiliation in (Affiliation.MEMBER, Affiliation.ALL)
            and repo.owner.lower() not in ("", self.owner.lower())
        ):
            # Another owner's repo the user is a member of: in a folder of its owner, so two owners' "api" never collide.
            return replace(repo, rel_path=f"{repo.owner}/{repo.rel_path}")
        return repo

    def is_secondary_limit(self, response: httpx.Response) -> bool:
        message = error_message(response).lower()
        return any(marker in message for marker in _SECONDARY_MARKERS)

    def forbidden_message(self, response: httpx.Response) -> str:
        sso = response.headers.get("x-github-sso")
        if sso:
            url = sso.partition("url=")[2].strip()
            hint = f" — authorize the token at {url}" if url else ""
            return f"the organisation enforces SAML single sign-on and this token is not authorized for it{hint}"
        accepted = response.headers.get("x-accepted-github-permissions")
        need = f" (needs: {accepted})" if accepted else ""
        return f"access forbidden: {error_message(response)}{need}"


def parse_repo(item: object, *, change_signal: str = "pushed_at") -> RemoteRepo | None:
    """A GitHub ``minimal-repository`` object (Gitea's repo objects share its shape); optional fields may
    be absent or null. ``change_signal`` names the field that moves on every push."""
    if not isinstance(item, dict):
        return None
    key = item.get("id")
    name = text_field(item, "name")
    if key is None or name is None:
        return None
    full_name = text_field(item, "full_name") or name
    owner = full_name.split("/", 1)[0] if "/" in full_name else ""
    owner_obj = item.get("owner")
    if not owner and isinstance(owner_obj, dict) and isinstance(owner_obj.get("login"), str):
        owner = owner_obj["login"]
    return RemoteRepo(
        key=str(key),
        full_name=full_name,
        rel_path=name,
        clone_url=text_field(item, "clone_url") or "",
        ssh_url=text_field(item, "ssh_url"),
        archived=item.get("archived") is True,
        fork=item.get("fork") is True,
        has_wiki=item.get("has_wiki") is True,
        private=item.get("private") is True,
        pushed_at=text_field(item, change_signal),
        default_branch=text_field(item, "default_branch"),
        owner=owner,
        topics=topics_field(item, "topics"),
        language=listed_text(item, "language"),
    )


def parse_gist(item: object) -> RemoteRepo | None:
    """A ``base-gist`` (``/users/U/gists``, ``/gists``, ``/gists/ID``): a git repo at ``git_pull_url``, whose
    ``updated_at`` moves with every edit and push. Its key is ``gist:ID`` (never a repo's id), its path the id."""
    if not isinstance(item, dict):
        return None
    gist = text_field(item, "id")
    clone_url = text_field(item, "git_pull_url")
    if not gist or clone_url is None:
        return None
    owner_obj = item.get("owner")
    owner = owner_obj.get("login") if isinstance(owner_obj, dict) else None
    owner = owner if isinstance(owner, str) else ""
    return RemoteRepo(
        key=f"{GIST_KEY}{gist}",
        full_name=f"{owner}/{gist}" if owner else gist,
        rel_path=gist,
        clone_url=clone_url,
        private=item.get("public") is False,
        pushed_at=text_field(item, "updated_at"),
        owner=owner,
    )
