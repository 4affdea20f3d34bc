"""Sourcehut's git.sr.ht GraphQL API (FORGE-APIS §7.5, §7.10): ``POST /query``, the listed user's repos by cursor.

The query is parsed and executed (a small GraphQL reader: fields, aliases, arguments, variables, nested selections;
no fragments), over the part of git.sr.ht's schema (``api/graph/schema.graphqls``) a lister reaches:
``version``, ``me``, ``user(username:)`` (null for no such user), ``User.repositories(cursor:, filter:)``,
``User.repository(name:)`` (null for none the caller may see: what a lookup by name gets for a deleted repo), the
top-level ``repositories`` (only the token owner's own, who owns none here: what a client listing by it sees),
``RepositoryCursor { results cursor }``, ``Repository { id created updated owner name description visibility
upstreamUrl HEAD }``, ``Reference { name target }``. A field the schema lacks is refused as gqlgen refuses it.

- **Paging:** newest first by id; ``filter.count`` (default 25) sets the page, the cursor (opaque, carrying the count
  and the last id: keyset, so nothing shifts when a repo is deleted mid-walk) continues it until it is null.
- **Price:** each field costs 1 plus its children; ``repositories`` costs its children times the cursor's count
  (when a cursor is given) and times ``filter.count`` (git.sr.ht ``api/graph/complexity.go``). Over 200 the whole
  query is refused: ``422`` with an ``errors`` array (gqlgen's ``COMPLEXITY_LIMIT_EXCEEDED``).
- **Credentials** (core-go ``auth/middleware.go``): ``Authorization: Bearer TOKEN``; none is ``401``, one not shaped
  like a token ``400``, one unknown ``403``, each ``{"message": "Authentication error: …"}``. The token's owner has
  been given access (an ACL) to the listed user's private repos, so they are listed; anonymous callers see only
  public ones.
- **Limits:** Sourcehut publishes no request quota; a spent ``Scenario.primary_limit`` (or a secondary hit) is
  answered as the proxy in front of it answers: ``429`` in HTML, with no ``Retry-After``.
- **Change signal:** ``HEAD.target`` stands for the default branch's commit: a 40-hex id that moves on every push
  (the real one would need every bare repo made before it is listed).
- Hostile entries keep their names; those hostile by a clone URL or another owner are not listed: Sourcehut's
  schema has no clone URLs, and a user's listing holds only that user's repos.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gz_tui.forge_sim.api_common import TOKEN_USER, ApiRequest, PageCut, Response, Site, iso, json_bytes, spoiled_page
from gz_tui.forge_sim.catalog import Catalog, RepoMeta
from gz_tui.forge_sim.limits import QuotaState
from gz_tui.forge_sim.scenario import Scenario

DEFAULT_COUNT = 25
COMPLEXITY_LIMIT = 200
_OAUTH2_TOKEN = re.compile(r"^[0-9a-zA-Z_+/]{33,}$")
_LEGACY_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_TOKEN = re.compile(
    r'\s+|,|#[^\n]*|(?P<punct>[{}():!$=\[\]])|(?P<name>[_A-Za-z][_0-9A-Za-z]*)|(?P<string>"(?:[^"\\]|\\.)*")|(?P<int>-?\d+)'
)

SCHEMA: dict[str, dict[str, str | None]] = {
    "Query": {"version": "Version", "me": "User", "user": "User", "repositories": "RepositoryCursor"},
    "Version": {"major": None, "minor": None, "patch": None, "deprecationDate": None},
    "User": {
        "id": None, "created": None, "updated": None, "canonicalName": None, "username": None, "email": None,
        "url": None, "location": None, "bio": None, "repositories": "RepositoryCursor", "repository": "Repository",
    },
    "RepositoryCursor": {"results": "Repository", "cursor": None},
    "Repository": {
        "id": None, "created": None, "updated": None, "owner": "User", "name": None, "description": None,
        "visibility": None, "upstreamUrl": None, "HEAD": "Reference",
    },
    "Reference": {"name": None, "target": None},
}  # fmt: skip
"""Each type's fields and the type of those that are objects (None: a scalar)."""


class GraphQLError(Exception):
    """A query refused as a whole (HTTP 422, ``{"errors": [...], "data": null}``)."""


@dataclass(slots=True)
class Field:
    name: str
    alias: str
    args: dict[str, Any] = field(default_factory=dict)
    children: list[Field] = field(default_factory=list)


class _Reader:
    """Reads one ``query`` operation into its fields, variables resolved."""

    def __init__(self, text: str, variables: dict[str, Any]) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                raise GraphQLError(f"Unexpected character {text[position]!r}")
            position = match.end()
            kind = match.lastgroup
            if kind is not None:
                self.tokens.append((kind, match.group(kind)))
        self.at = 0
        self.variables = variables

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> str:
        kind, text = self.peek()
        if kind == "end" or (value is not None and text != value):
            raise GraphQLError(f"Expected {value or 'more'}, found {text or '<EOF>'}")
        self.at += 1
        return text

    def document(self) -> list[Field]:
        if self.peek()[1] in ("mutation", "subscription"):
            raise GraphQLError("Only queries are served here")
        if self.peek()[1] == "query":
            self.take()
            if self.peek()[0] == "name":
                self.take()
            if self.peek()[1] == "(":
                self._variable_definitions()
        fields = self.selection_set()
        if self.peek()[0] != "end":
            raise GraphQLError("Only one operation is served here")
        return fields

    def _variable_definitions(self) -> None:
        self.take("(")
        while self.peek()[1] != ")":
            self.take("$")
            name = self.take()
            self.take(":")
            self._type()
            if self.peek()[1] == "=":
                self.take()
                self.variables.setdefault(name, self.value())
        self.take(")")

    def _type(self) -> None:
        if self.peek()[1] == "[":
            self.take()
            self._type()
            self.take("]")
        else:
            self.take()
        if self.peek()[1] == "!":
            self.take()

    def selection_set(self) -> list[Field]:
        self.take("{")
        fields = []
        while self.peek()[1] != "}":
            name = self.take()
            alias = name
            if self.peek()[1] == ":":
                self.take()
                name = self.take()
            args: dict[str, Any] = {}
            if self.peek()[1] == "(":
                self.take()
                while self.peek()[1] != ")":
                    key = self.take()
                    self.take(":")
                    args[key] = self.value()
                self.take(")")
            children = self.selection_set() if self.peek()[1] == "{" else []
            fields.append(Field(name, alias, args, children))
        self.take("}")
        return fields

    def value(self) -> Any:
        kind, text = self.peek()
        if text == "$":
            self.take()
            return self.variables.get(self.take())
        if text == "{":
            self.take()
            out = {}
            while self.peek()[1] != "}":
                key = self.take()
                self.take(":")
                out[key] = self.value()
            self.take("}")
            return out
        if text == "[":
            self.take()
            items = []
            while self.peek()[1] != "]":
                items.append(self.value())
            self.take("]")
            return items
        self.take()
        if kind == "string":
            return json.loads(text)
        if kind == "int":
            return int(text)
        return {"true": True, "false": False, "null": None}.get(text, text)


def parse_query(text: str, variables: dict[str, Any]) -> list[Field]:
    """The top-level fields of a query; GraphQLError for one the sim cannot read or the schema refuses."""
    fields = _Reader(text, dict(variables)).document()
    _check(fields, "Query")
    return fields


def _check(fields: list[Field], type_name: str) -> None:
    for item in fields:
        if item.name == "__typename":
            continue
        known = SCHEMA[type_name]
        if item.name not in known:
            raise GraphQLError(f'Cannot query field "{item.name}" on type "{type_name}".')
        child_type = known[item.name]
        if child_type is None and item.children:
            raise GraphQLError(f'Field "{item.name}" must not have a selection since type is a scalar.')
        if child_type is not None and not item.children:
            raise GraphQLError(f'Field "{item.name}" of type "{child_type}" must have a selection of subfields.')
        if child_type is not None:
            _check(item.children, child_type)


def complexity(fields: list[Field]) -> int:
    """git.sr.ht's price of a selection: 1 a field plus its children; a repository cursor multiplies its children."""
    total = 0
    for item in fields:
        inner = complexity(item.children)
        if item.name == "repositories":
            cursor = decode_cursor(item.args.get("cursor"))
            count = (item.args.get("filter") or {}).get("count") if isinstance(item.args.get("filter"), dict) else None
            inner *= cursor["count"] if cursor else 1
            inner *= count if isinstance(count, int) and count > 0 else 1
            total += inner
        else:
            total += 1 + inner
    return total


def encode_cursor(count: int, last_id: int, page: int) -> str:
    raw = json.dumps({"count": count, "next": str(last_id), "page": page}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: object) -> dict[str, int] | None:
    """The cursor's count, last id and page number; None for no cursor; GraphQLError for one the forge never gave."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise GraphQLError("cursor must be strings")
    try:
        data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        return {"count": int(data["count"]), "next": int(data["next"]), "page": int(data["page"])}
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise GraphQLError("Invalid cursor") from None


def head_target(meta: RepoMeta) -> str:
    """A stand-in for the default branch's commit: moves whenever the repo is pushed or its HEAD is pointed elsewhere."""
    return hashlib.sha1(f"{meta.id}:{meta.pushed}:{meta.updated}:{meta.default_branch}".encode()).hexdigest()


def _gql_errors(status: int, message: str, code: str | None = None) -> Response:
    error: dict[str, Any] = {"message": message}
    if code:
        error["extensions"] = {"code": code}
    return Response(status, json_bytes({"errors": [error], "data": None}))


def _auth_error(status: int, reason: str) -> Response:
    return Response(status, json_bytes({"message": f"Authentication error: {reason}"}))


@dataclass(slots=True)
class _Run:
    """One query's execution: its request, and the page a hostile scenario spoils (its body is then replaced)."""

    request: ApiRequest
    spoiled: PageCut | None = None


class SourcehutApi:
    """git.sr.ht flavour of :class:`~gz_tui.forge_sim.api_common.ForgeApi`."""

    provider = "sourcehut"

    def __init__(self, site: Site, catalog: Catalog, scenario: Scenario) -> None:
        self._site = site
        self._catalog = catalog
        self._scenario = scenario

    # -- checks the dispatcher runs --

    def authorized(self, request: ApiRequest, token: str) -> bool:
        return (request.header("authorization") or "").strip() == f"Bearer {token}"

    def unauthorized(self, request: ApiRequest) -> Response:
        header = (request.header("authorization") or "").strip()
        if not header:
            return _auth_error(401, "Authorization header is required. Expected 'Authorization: Bearer <token>'")
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer":
            return _auth_error(400, "Invalid Authorization header")
        if not (_OAUTH2_TOKEN.match(token) or _LEGACY_TOKEN.match(token)):
            return _auth_error(400, "Invalid OAuth bearer token")
        return _auth_error(403, "Invalid or expired OAuth 2.0 bearer token")

    def error(self, request: ApiRequest, status: int) -> Response:
        return _gql_errors(status, "internal system error" if status >= 500 else "bad request")

    def counts_quota(self, request: ApiRequest) -> bool:
        return True

    def rate_headers(self, state: QuotaState) -> list[tuple[str, str]]:
        return []

    def primary_limited(self, request: ApiRequest, state: QuotaState, retry_after: int) -> Response:
        return _too_many()

    def secondary_limited(self, request: ApiRequest, retry_after: int | None) -> Response:
        return _too_many()

    # -- the query --

    def handle(self, request: ApiRequest, state: QuotaState) -> Response:
        if request.path.strip("/") != "":
            return Response(404, b"404 page not found\n", content_type="text/plain; charset=utf-8")
        if request.method != "POST":
            return _gql_errors(405, "the query must be POSTed")
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return _gql_errors(400, "json request body could not be decoded")
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _gql_errors(422, "no operation provided", "GRAPHQL_VALIDATION_FAILED")
        given = body.get("variables")
        variables: dict[str, Any] = given if isinstance(given, dict) else {}
        try:
            fields = parse_query(body["query"], variables)
            price = complexity(fields)
            if price > COMPLEXITY_LIMIT:
                return _gql_errors(
                    422, f"operation has complexity {price}, which exceeds the limit of {COMPLEXITY_LIMIT}", "COMPLEXITY_LIMIT_EXCEEDED"
                )
            run = _Run(request)
            data = self._execute(fields, run)
        except GraphQLError as exc:
            return _gql_errors(422, str(exc), "GRAPHQL_VALIDATION_FAILED")
        if run.spoiled is not None:
            return spoiled_page(run.spoiled, [], lambda: None)
        return Response(200, json_bytes({"data": data}))

    def _execute(self, fields: list[Field], run: _Run) -> dict[str, Any]:
        request = run.request
        data: dict[str, Any] = {}
        for item in fields:
            if item.name == "version":
                data[item.alias] = _select(item.children, {"major": 0, "minor": 0, "patch": 0, "deprecationDate": None})
            elif item.name == "me":
                if request.anonymous:
                    raise GraphQLError("Access denied")
                data[item.alias] = self._user(item.children, TOKEN_USER, run)
            elif item.name == "user":
                name = item.args.get("username")
                if not isinstance(name, str):
                    raise GraphQLError('argument "username" of type "String!" is required')
                known = name.lower() == self._site.org.lower()
                data[item.alias] = self._user(item.children, self._site.org, run) if known else None
            elif item.name == "repositories":  # the token owner's own: none here
                data[item.alias] = _select(item.children, {"results": [], "cursor": None})
        return data

    def _user(self, children: list[Field], username: str, run: _Run) -> dict[str, Any]:
        number = 1 if username == TOKEN_USER else 2
        values: dict[str, Any] = {
            "id": number,
            "created": iso(1_546_300_800),
            "updated": iso(1_546_300_800),
            "canonicalName": f"~{username}",
            "username": username,
            "email": f"{username}@example.invalid",
            "url": None,
            "location": None,
            "bio": None,
        }
        out: dict[str, Any] = {}
        for item in children:
            if item.name == "repositories":
                owned = username != TOKEN_USER
                out[item.alias] = self._repositories(item, run) if owned else _select(item.children, {"results": [], "cursor": None})
            elif item.name == "repository":  # by name, exactly; null when there is none the caller may see
                name = item.args.get("name")
                if not isinstance(name, str):
                    raise GraphQLError('argument "name" of type "String!" is required')
                meta = self._catalog.find(name) if username != TOKEN_USER else None
                seen = meta is not None and meta.name == name and meta.owner is None and meta.clone_url is None
                if meta is None or not seen or (run.request.anonymous and meta.private):
                    out[item.alias] = None
                else:
                    out[item.alias] = self._repo(item.children, meta)
            else:
                out[item.alias] = values.get(item.name, "User" if item.name == "__typename" else None)
        return out

    def _repositories(self, item: Field, run: _Run) -> dict[str, Any]:
        cursor = decode_cursor(item.args.get("cursor"))
        wanted = item.args.get("filter")
        count = wanted.get("count") if isinstance(wanted, dict) else None
        size = cursor["count"] if cursor else (count if isinstance(count, int) and count > 0 else DEFAULT_COUNT)
        page = cursor["page"] + 1 if cursor else 1
        anonymous = run.request.anonymous

        def build(repos: Any) -> list[RepoMeta]:
            shown = (m for m in repos if m.owner is None and m.clone_url is None and not (anonymous and m.private))
            return sorted(shown, key=lambda m: m.id, reverse=True)

        view = self._catalog.view(("sourcehut", anonymous), build)
        start = 0
        if cursor:
            start = next((index for index, meta in enumerate(view) if meta.id < cursor["next"]), len(view))
        chosen = view[start : start + size]
        more = start + size < len(view)
        next_cursor = encode_cursor(size, chosen[-1].id, page) if more and chosen else None
        kind = self._scenario.hostile_listing
        spoiled = None
        if kind is not None and page == self._scenario.hostile_listing_page:
            if kind == "self_next":
                next_cursor = item.args.get("cursor")
            elif kind == "next_cycle":
                next_cursor = encode_cursor(size, (view[0].id + 1) if view else 0, 0)
            elif kind in ("deep_json", "gzip_bomb"):
                spoiled = kind
        if spoiled is not None:
            run.spoiled = PageCut(chosen, page, page, len(view), None, spoiled)
        self._catalog.page_served(view, page, size, self._scenario.churn)
        out: dict[str, Any] = {}
        for child in item.children:
            if child.name == "results":
                out[child.alias] = [self._repo(child.children, meta) for meta in chosen]
            elif child.name == "cursor":
                out[child.alias] = next_cursor
        return out

    def _repo(self, children: list[Field], meta: RepoMeta) -> dict[str, Any]:
        visibility = "PRIVATE" if meta.private else ("UNLISTED" if meta.id % 5 == 0 else "PUBLIC")
        values: dict[str, Callable[[list[Field]], Any]] = {
            "id": lambda _: meta.id,
            "created": lambda _: iso(meta.created),
            "updated": lambda _: iso(meta.updated),
            "name": lambda _: meta.name,
            "description": lambda _: f"Generated repository {meta.name}",
            "visibility": lambda _: visibility,
            "upstreamUrl": lambda _: None,
            "owner": lambda sub: _select(sub, {"canonicalName": f"~{self._site.org}", "username": self._site.org, "id": 2}),
            "HEAD": lambda sub: _select(sub, {"name": f"refs/heads/{meta.default_branch}", "target": head_target(meta)}),
        }
        return {item.alias: values[item.name](item.children) if item.name in values else None for item in children}


def _select(children: list[Field], values: dict[str, Any]) -> dict[str, Any]:
    return {item.alias: values.get(item.name) for item in children}


def _too_many() -> Response:
    body = b"<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n<center><h1>429 Too Many Requests</h1></center>\r\n</body>\r\n</html>\r\n"
    return Response(429, body, content_type="text/html")
