"""The listing's journal: each page with the repos it held, the cursor after it, and the page's ETag.

A page is journaled (its repos, the cursor and the ETag, in one transaction) before any of its repos is queued,
so a killed run resumes from the page after the last one it journaled. A 304 re-lists a page's repos from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gz_tui.forges.records import Page, RemoteRepo
from gz_tui.kinds import RepoStatus
from gz_tui.pipeline.state.base import Connection, Part, guarded
from gz_tui.pipeline.state.records import REPO_COLUMNS, REPO_WIDTH, Ack, StoredRepo, repo_from_row
from gz_tui.pipeline.state.repos import RepoRows


class PageRows(Part):
    """The listing pages (``store.pages``: the ``pages`` table, the run's cursor) and the repos each one brings."""

    def __init__(self, connection: Connection, repos: RepoRows) -> None:
        super().__init__(connection)
        self._repos = repos

    @guarded
    def record(self, run_id: int, page: Page, repos: Sequence[RemoteRepo], skipped: Mapping[str, str] | None = None) -> list[StoredRepo]:
        """Journal a page and the cursor after it; return the repos this run has not seen yet.

        ``skipped`` (repo key → reason) are left out by what the state does not keep (``--topic``, ``--language``):
        recorded as skipped in the same transaction, so a run killed right after never queues them on resume."""
        fresh: list[StoredRepo] = []
        with self.transaction():
            known = self._repos.known(repos)
            on_this_page: set[str] = set()
            for repo in repos:
                previous = known.get(repo.key)
                if (previous is not None and previous[0] == run_id) or repo.key in on_this_page:
                    continue  # listed twice in one run (offsets shifted, or twice on one page): de-duplicated by id
                on_this_page.add(repo.key)
                fresh.append(StoredRepo(repo, previous[1], 0, previous[2], previous[3]) if previous else StoredRepo(repo, None, 0))
            # The page is what it holds now: a repo it no longer holds (deleted, moved to another page) must not
            # come back when a later 304 re-lists this page from the state.
            self.db.execute("UPDATE repos SET page_url = NULL WHERE page_url = ?", (page.url,))
            self.db.executemany(
                f"INSERT INTO repos ({REPO_COLUMNS}, page_url, listed_run, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'listed') "
                "ON CONFLICT (key) DO UPDATE SET full_name = excluded.full_name, rel_path = excluded.rel_path, "
                "clone_url = excluded.clone_url, ssh_url = excluded.ssh_url, archived = excluded.archived, "
                "fork = excluded.fork, pushed_at = excluded.pushed_at, default_branch = excluded.default_branch, "
                "owner = excluded.owner, has_wiki = excluded.has_wiki, private = excluded.private, page_url = excluded.page_url, listed_run = excluded.listed_run, "
                "attempts = CASE WHEN repos.listed_run = excluded.listed_run THEN repos.attempts ELSE 0 END",
                [
                    (
                        r.key,
                        r.full_name,
                        r.rel_path,
                        r.clone_url,
                        r.ssh_url,
                        int(r.archived),
                        int(r.fork),
                        r.pushed_at,
                        r.default_branch,
                        r.owner,
                        int(r.has_wiki),
                        int(r.private),
                        page.url,
                        run_id,
                    )
                    for r in repos
                ],
            )
            if skipped:
                self._repos.write_acks(
                    run_id,
                    [Ack(i.repo.key, RepoStatus.SKIPPED, error_message=skipped[i.repo.key]) for i in fresh if i.repo.key in skipped],
                )
            self._save_cursor(run_id, page)
        return fresh

    @guarded
    def reuse(self, run_id: int, page: Page) -> list[StoredRepo]:
        """A 304: the page is what we stored; re-list its repos for this run without re-parsing anything."""
        with self.transaction():
            rows = self.db.execute(
                f"SELECT {REPO_COLUMNS}, listed_run, synced_pushed_at, synced_at, disk_path FROM repos WHERE page_url = ? ORDER BY rowid",
                (page.url,),
            ).fetchall()
            w = REPO_WIDTH
            fresh = [StoredRepo(repo_from_row(row), row[w + 1], 0, row[w + 2], row[w + 3] or None) for row in rows if row[w] != run_id]
            self.db.executemany("UPDATE repos SET listed_run = ?, attempts = 0 WHERE key = ?", [(run_id, s.repo.key) for s in fresh])
            self._save_cursor(run_id, page)
        return fresh

    @guarded
    def cache(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, next URL) the page at ``url`` had when last fetched whole."""
        row = self.db.execute("SELECT etag, next_url FROM pages WHERE url = ?", (url,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def _save_cursor(self, run_id: int, page: Page) -> None:
        if page.etag and not page.not_modified:
            self.db.execute(
                "INSERT INTO pages (url, etag, next_url, fetched_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, next_url = excluded.next_url, fetched_at = excluded.fetched_at",
                (page.url, page.etag, page.next_url, self._now()),
            )
        self.db.execute(
            "UPDATE runs SET cursor = ?, listing_done = ? WHERE id = ?",
            (page.next_url, int(page.next_url is None), run_id),
        )

    @guarded
    def set_seen(self, count: int) -> None:
        """How many repos the last complete listing held in all (a shard keeps only its own: this says how many
        the union of the shards must cover)."""
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('listing_seen', ?)", (str(count),))

    @guarded
    def seen(self) -> int | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'listing_seen'").fetchone()
        return int(row[0]) if row and str(row[0]).isdigit() else None

    @guarded
    def set_expected(self, run_id: int, listed: int, expected: int | None) -> None:
        """What run ``run_id``'s complete listing yielded, and how many repos the forge said it has (None: it did not say)."""
        value = f"{run_id} {listed} {expected if expected is not None else '-'}"
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('listing_expected', ?)", (value,))

    @guarded
    def expected(self) -> tuple[int, int, int | None] | None:
        """(run id, listed, expected) of the last complete listing, as :meth:`set_expected` wrote it."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'listing_expected'").fetchone()
        parts = str(row[0]).split() if row else []
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        return int(parts[0]), int(parts[1]), int(parts[2]) if parts[2].isdigit() else None
