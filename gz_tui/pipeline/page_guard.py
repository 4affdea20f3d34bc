"""A listing that never ends: the pages one listing pass has received, so a ``next`` link back to any of them (a page
that links to itself, two pages that point at each other, a cursor that does not move) stops the listing instead of
asking the forge the same pages for ever."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gz_tui.forges.errors import PageError
from gz_tui.urls import without_fragment


def page_identity(url: str) -> str:
    """What makes two page URLs the same page: scheme and host in any case, query parameters in any order, no fragment."""
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, query, ""))


class PagesReceived:
    """The page URLs received in this listing pass (a resumed pass starts at its cursor: the pages before it are not
    asked again, so they are not counted)."""

    def __init__(self) -> None:
        self._received: set[str] = set()

    def received(self, url: str) -> None:
        self._received.add(page_identity(url))

    def refuse_loop(self, number: int, next_url: str) -> None:
        """PageError when ``next_url`` (the link of page ``number``) names a page already received in this pass."""
        if page_identity(next_url) in self._received:
            raise PageError(
                f"the listing loops: page {number}'s next link names a page already received "
                f"({without_fragment(next_url)}); listing stopped, nothing is taken for gone"
            )

    def __len__(self) -> int:
        return len(self._received)
