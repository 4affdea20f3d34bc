"""Case twins across listing pages: the per-page check that lets the workers skip the per-repo query.

Real SQLite files, the product's StateStore. The workers ask ``case_twin`` for each repo only once a journaled
page reported a twin (``any_case_twin``), so that page check must see twins wherever they were listed.
"""

from __future__ import annotations

from pathlib import Path

from gz_tui.forges.records import Page, RemoteRepo
from gz_tui.kinds import RunStatus
from gz_tui.pipeline.state import StateStore

BASE = "https://api.github.com"


def remote(key: str, name: str) -> RemoteRepo:
    return RemoteRepo(key=key, full_name=f"acme/{name}", rel_path=name, clone_url=f"{BASE}/acme/{name}.git", owner="acme")


def journal(store: StateStore, run_id: int, number: int, repos: list[RemoteRepo]) -> list[str]:
    page = Page(url=f"{BASE}/orgs/acme/repos?page={number}", repos=repos, next_url=None)
    return [item.repo.rel_path for item in store.pages.record(run_id, page, repos)]


def begin(store: StateStore, tmp_path: Path) -> int:
    return store.runs.begin(forge="github", base_url=BASE, owner="acme", dest=str(tmp_path), options={}, dry_run=False)


def test_a_twin_listed_pages_later_is_reported_by_its_page_and_refused_by_name(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.sqlite3")
    try:
        run_id = begin(store, tmp_path)
        first = journal(store, run_id, 1, [remote("1", "Tools"), remote("2", "docs")])
        assert not store.repos.any_case_twin(run_id, first)
        second = journal(store, run_id, 2, [remote("3", "api"), remote("4", "tools")])
        assert store.repos.any_case_twin(run_id, second)
        # The later-listed twin is the one refused, naming the earlier; the earlier one is not refused.
        assert store.repos.case_twin(run_id, "4", "tools") == "acme/Tools"
        assert store.repos.case_twin(run_id, "1", "Tools") is None
        assert not store.repos.any_case_twin(run_id, journal(store, run_id, 3, [remote("5", "web")]))
    finally:
        store.close()


def test_two_twins_on_one_page_are_reported_and_other_runs_do_not_count(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.sqlite3")
    try:
        old_run = begin(store, tmp_path)
        journal(store, old_run, 1, [remote("1", "Gone")])
        store.runs.finish(old_run, RunStatus.FINISHED)
        run_id = begin(store, tmp_path)
        # "Gone" was listed by an earlier run only: no twin of this run's "GONE".
        assert not store.repos.any_case_twin(run_id, journal(store, run_id, 1, [remote("2", "GONE")]))
        assert store.repos.any_case_twin(run_id, journal(store, run_id, 2, [remote("3", "Same"), remote("4", "same")]))
        assert not store.repos.any_case_twin(run_id, [])
    finally:
        store.close()
