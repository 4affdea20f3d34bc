"""P2's reference: the bare minimum a lister must do — GET, parse the JSON, follow ``Link: rel="next"``.

No SQLite, no filtering, no events: the ceiling the forge allows. Prints the number of repos listed.
Usage: ``python bench/list_ref.py FIRST_PAGE_URL``
"""

from __future__ import annotations

import sys

import httpx


def main(url: str) -> int:
    count = 0
    next_url: str | None = url
    with httpx.Client(timeout=60, headers={"Accept": "application/vnd.github+json"}) as client:
        while next_url:
            response = client.get(next_url)
            response.raise_for_status()
            count += len(response.json())
            next_url = response.links.get("next", {}).get("url")
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
