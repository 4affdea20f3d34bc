"""The provider base class: one forge's API dialect for one owner, with the defaults most forges share.

A provider is made for one owner and is stateless from then on: everything it needs to parse a page is
given to its constructor, so a run that continues from a saved cursor (and never asks for the first
URLs) parses exactly like one that started from the top.

The lister drives every forge the same way: it asks :meth:`Provider.first_urls`, sends each page's request,
hands the answer to :meth:`Provider.next_url` (so that the next page is asked for while this one is parsed) and
then to :meth:`Provider.parse_page`, and follows the next URL until there is none. The URL of a page is also its
key in the state's journal (the cursor a resumed run starts from, the ETag cache), so it must say everything
needed to ask for that page again. The override points for forges that do not page with ``Link`` headers over GET:

- **paging in the body** (Bitbucket Cloud's ``next``, Data Center's ``isLastPage``/``nextPageStart``): override
  :meth:`next_url` (it gets the response; a 304 has no body) and :meth:`parse_page` (repos under a key of the body
  instead of a top-level list); both read the body with :func:`json_body`, which parses it once;
- **GraphQL** (Sourcehut): encode the cursor in the page URL (a query parameter of the endpoint), return the
  endpoint and the query from :meth:`page_request` so the lister POSTs it, and read the next cursor from the
  body in :meth:`next_url`;
- **no change signal in the listing**: leave ``RemoteRepo.pushed_at`` empty; such repos are fetched on every sync
  (until the pipeline checks them with ``git ls-remote``).

And for what a forge does differently outside the listing:

- **credentials**: :meth:`auth_headers` (the API) and :meth:`git_auth_header` (git's ``http.extraHeader``) may
  read the token's form (Bitbucket: an Atlassian API token written ``EMAIL:TOKEN`` is Basic, an access token
  Bearer); :meth:`git_origin` says where git goes;
- **wikis**: :meth:`wiki_url` (``NAME.wiki.git``, or Bitbucket Cloud's ``NAME.git/wiki``);
- **a listing the server filters** (``--topic`` on GitLab, ``--project`` on Bitbucket Cloud): :attr:`listing_is_partial`,
  so that nothing is taken for gone because the server left it out;
- **what the server is** (Gitea or Forgejo, and its page-size cap): :meth:`probe_urls` are asked once before the
  listing, each answer handed to :meth:`read_probe`, which may set :attr:`server` and what :meth:`first_urls` asks;
- **a user's stars** (``--starred``, where ``info.starred``): :attr:`starred` is set, :meth:`first_urls` names the
  user's starred listing, each ``rel_path`` is ``OWNER/NAME``, and prune asks :meth:`star_check_url` whether a repo
  the listing lacked is still starred;
- **gists and snippets** (``--gists`` where ``info.gists``, ``--snippets`` where ``info.snippets``): :attr:`gists` or
  :attr:`snippets` is set, :meth:`first_urls` names the listing (the owner's own, with secret or personal ones, from
  :meth:`own_listing`), each "repo" is a gist or a snippet whose ``key`` is prefixed (``gist:ID``, ``snippet:…``) so that
  it never meets a repo's id, ``rel_path`` is its id, and :meth:`lookup_urls` asks for the one gist or snippet;
- **a whole instance** (``--all``, where ``info.instance_listing``): :attr:`instance` is set and there is no owner;
  :meth:`first_urls` names the instance's listing and each repo's ``rel_path`` starts with its owner
  (``DEST/OWNER/PATH``).
"""

from __future__ import annotations

import base64
import weakref
from collections.abc import Sequence
from typing import ClassVar

import httpx

from gz_tui.forges.bounded import parse_json
from gz_tui.forges.records import Page, ProviderInfo, RateInfo, RemoteRepo
from gz_tui.forges.responses import error_message, int_header, rate_from_headers
from gz_tui.untrusted import add_secret
from gz_tui.urls import origin_url


class Provider:
    """Subclasses set ``info`` and implement ``auth_headers``, ``first_urls`` and ``parse_repo``."""

    info: ClassVar[ProviderInfo]
    total_header: ClassVar[str | None] = None
    """A response header holding the owner's repo count (GitLab ``x-total``, Gitea ``x-total-count``)."""
    rate_prefix: ClassVar[str] = "x-ratelimit-"
    """Prefix of the quota headers (GitHub and Gitea ``x-ratelimit-``, GitLab ``ratelimit-``)."""

    def __init__(
        self,
        base_url: str,
        owner: str,
        *,
        skip_archived: bool = False,
        topics: Sequence[str] = (),
        affiliation: str | None = None,
        projects: Sequence[str] = (),
        instance: bool = False,
        starred: bool = False,
        gists: bool = False,
        snippets: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.owner = owner.strip("/")
        self.skip_archived = skip_archived
        self.topics = tuple(topics)
        """``--topic``: a provider that can ask the server for it does (GitLab, one topic); the lister checks every repo."""
        self.affiliation = affiliation
        self.projects = tuple(projects)
        """``--project``: project keys, for a forge whose ``info.projects`` says it has them (asked of the server)."""
        self.instance = instance
        """``--all``: every repository the token can see on the instance; ``owner`` is then empty."""
        self.starred = starred
        """``--starred``: the repos the user ``owner`` starred (``info.starred``); each ``rel_path`` is ``OWNER/NAME``."""
        self.gists = gists
        """``--gists``: the gists of the user ``owner`` (``info.gists``); each ``rel_path`` is the gist's id."""
        self.snippets = snippets
        """``--snippets``: the snippets of ``owner``'s projects and personal ones (``info.snippets``); each ``rel_path``
        is the snippet's id."""
        self.server: str | None = None
        """What the server said it is (``Forgejo 9.0.0``, ``Gitea 1.23.0``), once :meth:`read_probe` has read it."""

    @classmethod
    def git_origin(cls, api_base: str) -> str:
        """Where git traffic goes for this API (``scheme://host:port/``): by default the API's own origin."""
        return origin_url(api_base)

    @classmethod
    def git_auth_header(cls, token: str) -> str:
        """The header git sends to :meth:`git_origin` with ``token``: by default Basic ``info.git_username:TOKEN``."""
        return f"Authorization: {basic_credentials(cls.info.git_username, token)}"

    @classmethod
    def wiki_url(cls, clone_url: str) -> str:
        """Where a repo's wiki is cloned from, given the repo's clone URL: ``NAME.wiki.git`` beside ``NAME.git``."""
        return clone_url.removesuffix("/").removesuffix(".git") + ".wiki.git"

    # -- requests -------------------------------------------------------------------------------
    def probe_urls(self) -> list[str]:
        """URLs asked once before the listing (a resumed one too), each answer handed to :meth:`read_probe`."""
        return []

    def read_probe(self, url: str, response: httpx.Response) -> None:
        """Learn from the answer to one of :meth:`probe_urls` (raises ValueError on a body that is not JSON)."""

    @property
    def page_size(self) -> int | None:
        """The repos a listing page is asked to hold, where the server's own word set it (Gitea's cap)."""
        return None

    def page_request(self, url: str) -> tuple[str, object] | None:
        """``(endpoint, JSON body)`` when a listing page is asked for with a POST (GraphQL); None: GET ``url``."""
        return None

    def default_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def auth_headers(self, token: str) -> dict[str, str]:
        raise NotImplementedError

    def first_urls(self) -> list[str]:
        """Listing URLs to try in order (e.g. the org, then the user of that name)."""
        raise NotImplementedError

    def own_listing(self) -> tuple[str, str] | None:
        """(who-am-I URL, listing URL) for a forge whose user listing hides the token owner's private repos."""
        return None

    @property
    def own_listing_first(self) -> bool:
        """Whether :meth:`own_listing` replaces the first of :meth:`first_urls` (a user's gists: there is no
        organisation listing to try first), not only the user listing after an organisation's."""
        return False

    def own_listing_note(self) -> str:
        """Said when the owner's own token would have listed more than :meth:`first_urls` did."""
        return (
            f"{self.owner} is a user, not an organisation: only their public repos are listed "
            "(their own token would list their private ones too)"
        )

    @property
    def extra_git_host(self) -> str | None:
        """A host other than the API's that this listing's clone URLs may name (github.com's gists are cloned from
        ``gist.github.com``); None: the API's host (and github.com's ``api.`` prefix dropped) only."""
        return None

    def viewer_url(self) -> str | None:
        """The forge's "who am I" endpoint (answered only to a credential it accepts), asked once before a run with a
        token lists anything; None for a forge where not every kind of token has a user (Bitbucket access tokens)."""
        return None

    def viewer_login(self, response: httpx.Response) -> str | None:
        """The user a :meth:`viewer_url` answer names (``login``, GitLab's ``username``), or None (an anonymous answer)."""
        body = json_body(response)
        if not isinstance(body, dict):
            return None
        login = body.get("login") or body.get("username")
        return login if isinstance(login, str) and login else None

    @property
    def topic_filtered_by_server(self) -> bool:
        """Whether the listing URLs already keep only repos with ``topics`` (the listing is then not complete)."""
        return False

    @property
    def listing_is_partial(self) -> bool:
        """Whether the server is asked to leave repos out (``--topic`` on GitLab, ``--project``), so that a repo missing
        from the listing may still exist: nothing may then be taken for gone (``--prune``)."""
        return self.topic_filtered_by_server

    def language_url(self, repo: RemoteRepo) -> str | None:
        """Where a repo's languages are, for a listing that does not say (GitLab, Gitea before 1.17); None: nowhere."""
        return None

    def parse_language(self, response: httpx.Response) -> str | None:
        """The primary language in a :meth:`language_url` answer: by default the largest of ``{name: bytes or share}``."""
        return largest_share(json_body(response))

    def topics_url(self, repo: RemoteRepo) -> str | None:
        """Where a repo's topics are, for a listing that does not say (Gitea before 1.23); None: nowhere."""
        return None

    def parse_topics(self, response: httpx.Response) -> tuple[str, ...]:
        """The topics in a :meth:`topics_url` answer: by default ``{"topics": [...]}``."""
        body = json_body(response)
        return (topics_field(body, "topics") or ()) if isinstance(body, dict) else ()

    def total_url(self) -> str | None:
        """A URL whose JSON tells the owner's repo count, when the listing itself does not."""
        return None

    def lookup_urls(self, key: str, rel_path: str) -> list[str]:
        """Where the forge answers about one repo — by id where it can, else by name (tried in order): what prune asks
        before it takes a repo the listing lacked for gone. Empty for a forge that cannot be asked."""
        return []

    def parse_lookup(self, response: httpx.Response) -> RemoteRepo | None:
        """The repo a :meth:`lookup_urls` answer describes (it may have another name, or another owner, by now).
        Raises NotFoundError for an answer that says there is none in its body (GraphQL's null), ValueError when
        the answer cannot be read."""
        return self.parse_repo(json_body(response))

    def parse_total(self, response: httpx.Response) -> int | None:
        return None

    def star_check_url(self, key: str, rel_path: str) -> tuple[str, bool] | None:
        """``--starred``: where the forge tells whether the user still stars the repo of id ``key`` (at ``OWNER/NAME``),
        and whether only the user's own token may ask it (GitHub's and Gitea's ``/user/starred/OWNER/NAME``); None:
        the forge cannot be asked (nothing unstarred is then pruned)."""
        return None

    def still_starred(self, response: httpx.Response) -> bool:
        """Whether a :meth:`star_check_url` answer that was not a 404 says the repo is starred (``204 No Content``)."""
        return response.status_code == 204

    # -- responses ------------------------------------------------------------------------------
    def parse_page(self, url: str, response: httpx.Response) -> Page:
        """One listing page; a 304 carries no repos (the state has them). Raises ValueError on a bad body."""
        etag = response.headers.get("etag")
        total = int_header(response, self.total_header) if self.total_header else None
        next_url = self.next_url(url, response)
        if response.status_code == 304:
            return Page(url=url, repos=[], next_url=next_url, etag=etag, not_modified=True, total=total)
        body = json_body(response)
        if not isinstance(body, list):
            raise ValueError("expected a JSON list of repositories")
        repos = [repo for item in body if (repo := self.parse_repo(item)) is not None]
        return Page(url=url, repos=repos, next_url=next_url, etag=etag, total=total)

    def next_url(self, url: str, response: httpx.Response) -> str | None:
        """The ``rel="next"`` link, verbatim."""
        link = response.links.get("next")
        return link.get("url") if link else None

    def parse_repo(self, item: object) -> RemoteRepo | None:
        """One repo object of a listing, or None when it lacks what gz-tui needs."""
        raise NotImplementedError

    def rate_info(self, response: httpx.Response, now: float) -> RateInfo:
        return rate_from_headers(response, now, self.rate_prefix)

    def is_secondary_limit(self, response: httpx.Response) -> bool:
        return False

    def forbidden_message(self, response: httpx.Response) -> str:
        return f"access forbidden: {error_message(response)}"

    def credentials_refused(self, response: httpx.Response) -> bool:
        """Whether an answer refuses the credentials (never retried, exit 2): a 401, on most forges; Sourcehut also
        answers a token it does not know with a 403 (and a malformed one with a 400) saying ``Authentication error``."""
        return response.status_code == 401


def basic_credentials(user: str, secret: str) -> str:
    """An ``Authorization`` value for HTTP Basic: ``Basic base64(USER:SECRET)``.

    The pair is registered with the process-wide redactor, so its base64 is redacted whatever the user name (a new
    forge's git user needs no entry in :data:`gz_tui.untrusted.BASIC_AUTH_USERS`)."""
    add_secret(f"{user}:{secret}")
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")


_BODIES: weakref.WeakKeyDictionary[httpx.Response, object] = weakref.WeakKeyDictionary()


def json_body(response: httpx.Response) -> object:
    """The JSON of a response, parsed once however many override points read it (a page paged in its body is read by
    :meth:`Provider.next_url`, then by :meth:`Provider.parse_page`); kept only as long as the response is.
    Raises ValueError on a body that is not JSON (or nests deeper than ``bounded.MAX_JSON_DEPTH``)."""
    try:
        return _BODIES[response]
    except KeyError:
        pass
    body = parse_json(response.content)
    _BODIES[response] = body
    return body


def topics_field(item: dict[str, object], *keys: str) -> tuple[str, ...] | None:
    """The first of ``keys`` holding a list of strings (topics), its non-string items dropped; None when none of them
    is there (the listing does not say: not the same as no topics)."""
    for key in keys:
        value = item.get(key)
        if isinstance(value, list):
            return tuple(v for v in value if isinstance(v, str) and v)
    return None


def listed_text(item: dict[str, object], key: str) -> str | None:
    """A field a listing may leave out: its text, ``""`` when it says none (null, empty or another type), None when the
    key is absent (the listing does not say)."""
    if key not in item:
        return None
    value = item.get(key)
    return value if isinstance(value, str) else ""


def largest_share(body: object) -> str | None:
    """The language with the largest share in ``{name: bytes or percent}`` (GitHub, GitLab, Gitea); ``""`` for none."""
    if not isinstance(body, dict):
        return None
    shares = {name: share for name, share in body.items() if isinstance(name, str) and isinstance(share, (int, float))}
    return max(shares, key=lambda name: shares[name]) if shares else ""


def text_field(item: dict[str, object], key: str) -> str | None:
    """A string field of an untrusted JSON object, or None when absent, null or another type."""
    value = item.get(key)
    return value if isinstance(value, str) else None
