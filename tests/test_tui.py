"""The dashboard's behaviour with a scripted run: keys, confirmations, exit codes, crashes, escaping.

The run is a ``StaticControl`` from ``gz_tui.tui.demo_data`` (fixed snapshot, no forge), so these tests
need no network, no git and no sleeping beyond Textual's own message pumping. The end-to-end pilot tests
against the embedded forge and the real pipeline are in ``test_tui_pipeline.py``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from rich.text import Text
from textual.binding import Binding

from gz_tui.clock import FakeClock
from gz_tui.config import Settings
from gz_tui.kinds import ErrorClass, WaitKind
from gz_tui.pipeline.snapshot import ErrorView, ListerState, RunState, Snapshot, WorkerState, WorkerView
from gz_tui.tui import demo_data
from gz_tui.tui import format as tui_format
from gz_tui.tui.app import GzTuiApp, make_app
from gz_tui.tui.format import (
    Fit,
    binary_rate,
    binary_size,
    clock_duration,
    common_parent,
    countdown,
    fit_path,
    forge_text,
    home_path,
    percent,
    repo_rate,
    short_repo,
    short_target_labels,
    target_label,
    thousands,
    wall_time,
)
from gz_tui.tui.keys import declared, key_name
from gz_tui.tui.screens import ConfirmScreen, DashboardScreen, ErrorDetailScreen, HelpScreen
from gz_tui.tui.widgets import ErrorLog, RunSummary, TargetsPanel, WorkerTable
from gz_tui.tui.widgets.errors import attempt_text
from gz_tui.tui.widgets.progress import progress_text
from gz_tui.tui.widgets.rate_limit import rate_limit_text
from gz_tui.tui.widgets.targets import state_text as target_state_text
from tests.helpers import screen_text

SIZE = (100, 32)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    with demo_data.fixed_timezone():
        yield


def app_for(
    snapshot: Snapshot, targets: Sequence[Settings] = (demo_data.SETTINGS,), *, demo: bool = False
) -> tuple[GzTuiApp, demo_data.StaticFactory]:
    factory = demo_data.StaticFactory(snapshot)
    app = make_app(targets, factory, FakeClock(snapshot.now), demo=demo)
    app.animation_level = "none"
    return app, factory


def dashboard(app: GzTuiApp) -> DashboardScreen:
    return app.dashboard


def footer_keys(app: GzTuiApp) -> dict[str, str]:
    return {key: active.binding.description for key, active in app.screen.active_bindings.items() if active.binding.show}


# -- formatting -------------------------------------------------------------------------------------


def test_numbers_have_thousands_separators() -> None:
    assert thousands(0) == "0"
    assert thousands(1234) == "1,234"
    assert thousands(12_345_678) == "12,345,678"
    assert thousands(None) == "—"


@pytest.mark.parametrize(
    ("nbytes", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.00 KiB"),
        (1536, "1.50 KiB"),
        (31.4 * 2**20, "31.4 MiB"),
        (212 * 2**20, "212 MiB"),
        (1536 * 2**20, "1.50 GiB"),
        (5 * 2**40, "5.00 TiB"),
        (3 * 2**50, "3.00 PiB"),
        (-5, "0 B"),
    ],
)
def test_sizes_use_binary_units(nbytes: float, shown: str) -> None:
    assert binary_size(nbytes) == shown


def test_rates() -> None:
    assert binary_rate(18.4 * 2**20) == "18.4 MiB/s"
    assert repo_rate(4.25) == "4.2 repos/s"
    assert repo_rate(0.04) == "0.04 repos/s"
    assert repo_rate(0) == "0.0 repos/s"


def test_durations_are_mm_ss_or_hh_mm_ss() -> None:
    assert clock_duration(761) == "00:12:41"
    assert clock_duration(3 * 3600 + 5) == "03:00:05"
    assert clock_duration(None) == "--:--:--"
    assert countdown(58) == "0:58"
    assert countdown(41 * 60 + 9) == "41:09"
    assert countdown(3723) == "1:02:03"
    assert countdown(0.2) == "0:01", "a countdown rounds up: it never reads 0:00 before the deadline"
    assert countdown(-3) == "0:00"
    assert countdown(None) == "—"


def test_wall_time_is_local_time() -> None:
    assert wall_time(demo_data.START) == "08:00:00"  # 2027-01-15 08:00:00 UTC, rendered in UTC here
    assert wall_time(None) == "--:--:--"


def test_percent_never_claims_done_too_early() -> None:
    assert percent(0.593) == "59%"
    assert percent(0.9999) == "99%"
    assert percent(1.0) == "100%"
    assert percent(None) == "—"


def test_forge_strings_are_never_markup() -> None:
    text = forge_text("[red]boom[/red]\x1b[31m")
    assert isinstance(text, Text)
    assert text.plain == "[red]boom[/red]\\x1b[31m"
    assert not text.spans


def test_the_formatting_helpers_import_no_textual() -> None:
    tree = ast.parse(Path(tui_format.__file__).read_text())
    modules = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    modules += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert "rich.text" in modules, "the walk sees the module's imports"
    assert [m for m in modules if m.split(".")[0] == "textual"] == []


def test_paths_and_names_are_shortened() -> None:
    assert short_repo("acme/tools", "acme") == "tools"
    assert short_repo("other/tools", "acme") == "other/tools"
    assert short_repo("group/sub/tools", "group") == "sub/tools"
    assert home_path("/nowhere/x") == "/nowhere/x"
    assert fit_path("platform/core/libs/repo-00068", 16) == "plat…/repo-00068"
    assert fit_path("platform/repo-1", 16) == "platform/repo-1"
    assert fit_path("a-very-long-plain-repository-name", 10) == "a-ve…-name"
    assert fit_path("x/a-very-long-leaf-name-here", 10) == "x/a-…-here"
    assert fit_path("k8s/cluster-addons", 16) == "…/cluster-addons"


def test_fit_picks_the_longest_wording_that_fits() -> None:
    fit = Fit(Text("a long wording"), Text("short"))
    assert fit.choose(40).plain == "a long wording"
    assert fit.choose(10).plain == "short"
    assert fit.choose(2).plain == "short"


def test_attempt_column() -> None:
    now = demo_data.NOW
    error = ErrorView(now, "acme/x", ErrorClass.NETWORK, "hung up", 2, 3, now + 4)
    assert attempt_text(error, now) == "try 2/3, retry in 0:04"
    assert attempt_text(error, now, short=True) == "2/3, retry 0:04"
    assert attempt_text(error, now + 10) == "try 2/3, retried"
    assert attempt_text(replace(error, attempt=3, retry_at=None), now) == "try 3/3, gave up"
    assert attempt_text(replace(error, attempt=1, retry_at=None), now) == "try 1/3, not retried"


def test_rate_limit_line_counts_down() -> None:
    snap = demo_data.waiting_rate_limit()
    assert rate_limit_text(snap).plain.startswith("WAITING primary limit: waiting 41:09 (resets 08:53:50)")
    later = replace(snap, now=snap.now + 60)
    assert "waiting 40:09" in rate_limit_text(later).plain
    secondary = replace(snap, rate=replace(snap.rate, wait_kind=WaitKind.SECONDARY, wait_until=snap.now + 58))
    assert rate_limit_text(secondary).plain.startswith("WAITING secondary limit: retry in 0:58")
    over = replace(snap, now=snap.rate.wait_until + 1)  # type: ignore[operator]
    assert "WAITING" not in rate_limit_text(over).plain
    assert " · 1 request · " in rate_limit_text(replace(over, rate=replace(over.rate, requests=1))).plain
    assert " · 2 requests · " in rate_limit_text(replace(over, rate=replace(over.rate, requests=2))).plain


def test_progress_counts_what_was_listed_and_waits_for_the_rate_limit() -> None:
    snap = demo_data.mid_run()
    assert progress_text(snap).plain == "1,234 / 2,104  58%  ETA 3:28"
    # GitHub's public_repos leaves out private repos: the listing may find more than the "total".
    more = replace(snap, counts=replace(snap.counts, listed=2_500))
    assert progress_text(more).plain.startswith("1,234 / 2,500  49%")
    # Half the org is not listed yet and the lister waits 41:09: nothing ends before that.
    assert "ETA 41:09" in progress_text(demo_data.waiting_rate_limit()).plain
    assert progress_text(demo_data.paused_full()).plain.endswith("ETA paused")


# -- the dashboard ----------------------------------------------------------------------------------


async def test_mid_run_shows_every_panel() -> None:
    app, _ = app_for(demo_data.mid_run())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        for expected in (
            "github.com/acme → /srv/mirror/acme",
            "RUNNING",
            "00:12:41",
            "1,234 / 2,104",
            "4.2 repos/s",
            "18.4 MiB/s",
            "412 / 500",
            "4,211 / 5,000 left · resets in 41:09",
            "kafka-connect",
            "212 MiB",
            "Errors 13 · 6 retried",
            "try 2/3, retry in 0:04",
        ):
            assert expected in text, expected
        assert footer_keys(app) == {"p": "Pause", "c": "Cancel", "e": "Errors", "question_mark": "Help", "q": "Quit"}


async def test_worker_rows_are_keyed_and_updated_in_place() -> None:
    snap = demo_data.mid_run()
    app, factory = app_for(snap)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one(WorkerTable)
        assert table.row_keys == list(range(1, 9))
        control = factory.made[0][1]
        workers = list(snap.workers)
        workers[7] = WorkerView(8, WorkerState.CLONING, "acme/new-one", "receiving objects", 5.0, 2048, snap.now - 1)
        control.show(replace(snap, workers=tuple(workers)))
        dashboard(app).refresh_snapshot()
        await pilot.pause()
        assert table.row_keys == list(range(1, 9))
        assert table.cell_text(8, "repo") == "new-one"
        assert table.cell_text(8, "received") == "2.00 KiB"
        assert "new-one" in screen_text(app) and "2.00 KiB" in screen_text(app)


async def test_many_workers_scroll_without_clipping_a_column() -> None:
    snap = demo_data.mid_run()
    workers = tuple(replace(w, index=i + 1) for i, w in enumerate(snap.workers * 2))
    app, _ = app_for(replace(snap, workers=workers))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(WorkerTable)
        assert table.row_keys == list(range(1, 17))
        lines = [line for line in screen_text(app).splitlines() if "kafka-connect" in line]
        assert lines and all(line.rstrip(" ▁▂▃▄▅▆▇█▔").endswith("00:01:12") for line in lines), lines
        assert "elapsed" in screen_text(app)


async def test_p_pauses_and_p_again_unpauses() -> None:
    app, factory = app_for(demo_data.mid_run())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        control = factory.made[0][1]
        assert control.calls == ["pause"]
        assert "PAUSED" in screen_text(app)
        assert footer_keys(app)["p"] == "Unpause"
        await pilot.press("p")
        await pilot.pause()
        assert control.calls == ["pause", "unpause"]
        assert footer_keys(app)["p"] == "Pause"


async def test_cancel_asks_first_then_shows_the_summary_and_offers_resume() -> None:
    app, factory = app_for(demo_data.mid_run())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # the safe answer: nothing happens
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert factory.made[0][1].calls == []
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        board = dashboard(app)
        assert factory.made[0][1].calls == ["cancel"]
        assert not board.run_active and board.exit_code == 130
        assert board.query_one(RunSummary).display and not board.query_one(WorkerTable).display
        text = screen_text(app)
        assert "CANCELLED" in text and "resume from the checkpoint" in text
        keys = footer_keys(app)
        assert keys["r"] == "Resume" and "p" not in keys and "c" not in keys

        await pilot.press("r")
        await pilot.pause()
        assert len(factory.made) == 2
        [settings], _ = factory.made[1]
        assert settings.retry_failed and settings.owner == "acme"
        assert board.run_active and not board.query_one(RunSummary).display


async def test_finished_with_failures_offers_retry_and_q_leaves_with_the_run_exit_code() -> None:
    app, factory = app_for(demo_data.finished_with_errors())
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert footer_keys(app) == {"r": "Retry failed", "e": "Errors", "question_mark": "Help", "q": "Quit"}
        text = screen_text(app)
        assert "13 repos failed" in text and "state.sqlite3" in text and "average 0.8 repos/s" in text
        await pilot.press("q")  # no question: nothing is running
        await pilot.pause()
    assert app.return_value == 1


async def test_the_summary_counts_clones_the_forge_no_longer_lists() -> None:
    snap = demo_data.finished_with_errors()
    app, _ = app_for(replace(snap, counts=replace(snap.counts, gone=3)))
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        line = next(line for line in screen_text(app).splitlines() if "not on forge" in line)
        assert "3 (kept)" in line


async def test_quit_mid_run_confirms_stops_the_run_and_exits_130() -> None:
    app, factory = app_for(demo_data.mid_run())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.kind == "quit"
        await pilot.press("escape")
        await pilot.pause()
        assert dashboard(app).run_active
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert factory.made[0][1].calls == ["cancel"]
    assert app.return_value == 130


async def test_ctrl_c_twice_quits_mid_run() -> None:
    app, factory = app_for(demo_data.mid_run())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert factory.made[0][1].calls == ["cancel"]
    assert app.return_value == 130


@pytest.mark.parametrize(("exit_code", "offers_resume"), [(2, False), (1, True)])
async def test_r_is_offered_only_when_running_again_can_help(exit_code: int, offers_resume: bool) -> None:
    snap = demo_data.mid_run()
    message = "github owner 'nosuchorg' not found" if exit_code == 2 else "the listing stopped after 5 attempts"
    failed = replace(snap, run_state=RunState.FAILED, exit_code=exit_code, message=message, errors=(), error_count=0)
    app, _ = app_for(failed)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app)
        assert message in text
        assert ("r" in footer_keys(app)) is offers_resume
        assert ("resume from the checkpoint" in text) is offers_resume


@pytest.mark.parametrize(("permanent", "retry_text"), [(13, None), (4, "r retry 9 failed (4 more would fail again)")])
async def test_r_offers_to_retry_only_what_a_retry_could_change(permanent: int, retry_text: str | None) -> None:
    snap = demo_data.finished_with_errors()  # 13 failed
    snap = replace(snap, counts=replace(snap.counts, failed_permanent=permanent))
    app, _ = app_for(snap)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app)
        assert ("r" in footer_keys(app)) is (retry_text is not None)
        if retry_text is None:
            assert "13 failed for good" in text and "a retry would not change them" in text and "r retry" not in text
        else:
            assert retry_text in text


@pytest.mark.parametrize("demo", [False, True])
async def test_the_demos_planted_failures_are_said_to_be_planted(demo: bool) -> None:
    snap = demo_data.finished_with_errors()
    app, _ = app_for(replace(snap, counts=replace(snap.counts, failed_permanent=13)), demo=demo)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app)
        assert ("13 refused for good: the demo's planted hostile entries" in text) is demo
        assert ("13 failed for good: a retry would not change them" in text) is not demo
        assert "q quit (exit code" in text


class CrashingControl(demo_data.StaticControl):
    async def run(self) -> int:
        raise RuntimeError("database is locked")


async def test_a_pipeline_crash_is_shown_not_raised() -> None:
    snap = demo_data.mid_run()
    app = make_app([demo_data.SETTINGS], lambda targets: CrashingControl(snap), FakeClock(snap.now))
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app)
        assert "FAILED" in text
        assert "The pipeline crashed (RuntimeError): database is locked" in text
        assert footer_keys(app)["r"] == "Resume"
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 2


async def test_a_factory_error_is_shown_not_raised() -> None:
    def factory(settings: Any) -> Any:
        raise ValueError("bad --include pattern")

    app = make_app([demo_data.SETTINGS], factory, FakeClock(demo_data.NOW))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert dashboard(app).crash == "Could not start the run (ValueError): bad --include pattern"
        text = screen_text(app)
        assert "FAILED" in text and "bad --include pattern" in text and "github.com/acme" in text
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 2


async def test_forge_strings_are_shown_literally() -> None:
    snap = demo_data.mid_run()
    evil = "acme/[bold]x[/bold]"
    workers = (WorkerView(1, WorkerState.CLONING, evil, "[b]rx[/b]", 10.0, 100, snap.now - 1),)
    errors = (ErrorView(snap.now - 1, evil, cast(ErrorClass, "[i]x[/i]"), "fatal: [red]bad[/red] object", 1, 3, None),)
    app, _ = app_for(replace(snap, workers=workers, errors=errors, error_count=1))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "[bold]x[/bold]" in text
        assert "[b]rx[/b]" in text
        assert "fatal: [red]bad[/red] object" in text
        assert "[i]x[/i]" in text
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ErrorDetailScreen)
        assert "fatal: [red]bad[/red] object" in screen_text(app)


async def test_a_notice_pops_up_once_as_a_literal_note() -> None:
    snap = demo_data.mid_run()
    notice = "octo[b]cat[/b] is a user, not an organisation: only their public repos are listed"
    app, factory = app_for(replace(snap, notices=(notice,)))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        dashboard(app).refresh_snapshot()
        await pilot.pause()
        assert screen_text(app).count("octo[b]cat[/b]") == 1, "one toast, its text literal"


async def test_e_enlarges_the_error_log_and_escape_goes_back() -> None:
    app, _ = app_for(demo_data.mid_run())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        log = app.screen.query_one(ErrorLog)
        await pilot.press("e")
        await pilot.pause()
        assert app.screen.maximized is log and app.focused is log
        assert footer_keys(app)["escape"] == "Back"
        assert "08:05:43" in screen_text(app), "the oldest error fits once enlarged"
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ErrorDetailScreen)
        assert "repository not accessible with this token (HTTP 403)" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.maximized is None


async def test_errors_are_newest_first_and_new_ones_go_on_top() -> None:
    snap = demo_data.mid_run()
    app, factory = app_for(snap)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.screen.query_one(ErrorLog)
        first = [str(log.get_row_at(i)[1]).strip() for i in range(log.row_count)]
        assert first[0] == "legacy-billing" and first[-1] == "old-wiki"
        newest = ErrorView(snap.now, "acme/brand-new", ErrorClass.NETWORK, "reset", 1, 3, snap.now + 2)
        factory.made[0][1].show(replace(snap, errors=(newest, *snap.errors), error_count=14))
        dashboard(app).refresh_snapshot()
        await pilot.pause()
        rows = [str(log.get_row_at(i)[1]).strip() for i in range(log.row_count)]
        assert rows == ["brand-new", *first]
        assert log.border_title == "Errors 13 · 6 retried · newest 8 shown"


async def test_help_and_palette_list_only_what_applies() -> None:
    app, _ = app_for(demo_data.paused_full())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Unpause" in titles and "Cancel" in titles
        assert "Pause" not in titles and "Resume" not in titles and "Retry failed" not in titles
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "Pause the run" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


def test_every_key_binding_says_what_it_does() -> None:
    """Each key of the app, its screens and widgets is a ``Binding`` with a tooltip (the footer's hover text)."""
    import gz_tui.tui

    declaring: dict[str, list[object]] = {}
    for info in pkgutil.walk_packages(gz_tui.tui.__path__, "gz_tui.tui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and "BINDINGS" in vars(cls):
                declaring[cls.__name__] = list(vars(cls)["BINDINGS"])
    assert set(declaring) >= {"GzTuiApp", "DashboardScreen", "TargetsPanel", "ErrorLog", "ConfirmScreen", "HelpScreen"}
    untold = [(name, b) for name, bindings in declaring.items() for b in bindings if not isinstance(b, Binding) or not b.tooltip]
    assert untold == []


ENDED = (RunState.FINISHED, RunState.CANCELLED, RunState.FAILED)


@pytest.mark.parametrize("state", ["mid_run", "paused_full", "finished_with_errors", "several_targets"])
async def test_every_dashboard_key_is_in_the_help_and_in_the_palette_while_it_applies(state: str) -> None:
    snapshot: Snapshot = getattr(demo_data, state)()
    app, _ = app_for(snapshot, demo_data.TARGETS if state == "several_targets" else (demo_data.SETTINGS,))
    async with app.run_test(size=SIZE) as pilot:
        if snapshot.run_state in ENDED:
            await app.workers.wait_for_complete()
        await pilot.pause()
        board = dashboard(app)
        for enlarged in (False, True):  # the enlarged error log has keys of its own (Back)
            palette = {command.title: command.help for command in app.get_system_commands(app.screen)}
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            rows = {row.key: row.text for row in app.screen.key_rows}
            await pilot.press("escape")
            await pilot.pause()
            applied = []
            for binding in declared(DashboardScreen.BINDINGS):
                assert binding.tooltip, binding
                said = DashboardScreen.KEY_HELP.get(binding.action, binding.tooltip.rstrip("."))
                assert said in rows[key_name(binding.key)], binding
                if board.check_action(binding.action, ()):
                    applied.append(binding.action)
                    assert palette.get(binding.description) == binding.tooltip, binding
                else:
                    assert binding.description not in palette, binding
            assert "quit" in applied and "help" in applied
            assert ("back" in applied) is enlarged
            await pilot.press("e")
            await pilot.pause()
            assert (app.screen.maximized is not None) is not enlarged


async def test_the_help_still_says_all_it_said_of_each_key() -> None:
    app, _ = several_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows = {row.key: row.text for row in dashboard(app).key_help()}
    said = {
        "p": "Pause the run: workers finish their current repo and take nothing new; the buffer fills and "
        "the lister stops asking the API. Press p again to carry on. With a target selected (t), p "
        "pauses or unpauses that target alone.",
        "t": "In a run of several targets: select one in the Targets panel (↑/↓ or a click move the "
        "selection, t or Escape gives the keys back to the run). p then pauses just that target: its "
        "repos wait, its buffer fills, its lister stops; the other targets carry on. p again unpauses it.",
        "c": "Cancel the run (asks first). Git is stopped, partial clones are removed, finished repos and the checkpoint are kept.",
        "r": "After a cancel, or a finish with failures: run again from the checkpoint, retrying the failures.",
        "e": "Enlarge the error log (Enter on an error shows its full text; e or Escape goes back).",
        "q": "Quit. While a run is going it asks first, stops the run cleanly and exits with code 130.",
        "ctrl+c": "Same as q; press it again on the question to confirm.",
        "ctrl+p": "Command palette: every action that applies right now.",
        "?": "This help.",
    }
    assert {key: rows.get(key) for key in said} == said
    assert rows["Enter"] == "Show the full text of the error under the cursor."


async def test_the_render_tick_follows_the_run() -> None:
    """Countdowns move with the snapshot's clock: the dashboard re-reads the run on its own tick."""
    snap = demo_data.waiting_rate_limit()
    app, factory = app_for(snap)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "waiting 41:09" in screen_text(app)
        factory.made[0][1].show(replace(snap, now=snap.now + 60))
        # No refresh_snapshot() here: only the dashboard's own tick can bring the new countdown on screen.
        for _ in range(100):
            if "waiting 40:09" in screen_text(app):
                break
            await pilot.pause(0.05)
        assert "waiting 40:09" in screen_text(app)


def test_a_run_too_short_to_time_shows_no_average_rate() -> None:
    from rich.console import Console

    from gz_tui.tui.widgets.summary import summary_renderable

    def shown(seconds: float) -> str:
        snap = demo_data.finished_with_errors()
        snap = replace(snap, started_at=snap.now - seconds)
        console = Console(width=120, record=True, color_system=None)
        console.print(summary_renderable(snap, 1))
        return console.export_text()

    assert "average" not in shown(0.04), "1 repo in 0.04 s is not 25 repos/s"
    assert "average" in shown(60.0)


def test_the_rate_limit_panel_shows_an_unreachable_forge_and_when_the_run_gives_up() -> None:
    from gz_tui.pipeline.snapshot import OutageView

    snap = demo_data.mid_run()
    down = replace(snap, outage=OutageView("git.example.com:443", snap.now - 20, snap.now + 580, snap.now + 8))
    text = rate_limit_text(down).variants[0].plain
    assert text.startswith("UNREACHABLE git.example.com:443: retrying in 0:08") and "repos stay pending" in text


# -- a run of several targets -----------------------------------------------------------------------


def several_app(snapshot: Snapshot | None = None) -> tuple[GzTuiApp, demo_data.StaticFactory]:
    return app_for(snapshot or demo_data.several_targets(), demo_data.TARGETS)


def line_with(app: GzTuiApp, needle: str) -> str:
    """The first line on screen with ``needle``; a targets panel row when ``needle`` is a target's label."""
    lines = screen_text(app).splitlines()
    return next((line for line in lines if line.lstrip().startswith(needle)), None) or next(line for line in lines if needle in line)


def with_target(snap: Snapshot, name: str, **changes: Any) -> Snapshot:
    return replace(snap, targets=tuple(replace(t, **changes) if t.name == name else t for t in snap.targets))


def test_target_labels_and_the_folder_targets_share() -> None:
    triples = [("acme", "github", "acme"), ("infra", "gitlab", "platform/infra"), ("mirror", "gitea", "acme")]
    assert short_target_labels(triples) == {"acme": "github/acme", "infra": "infra", "mirror": "gitea/acme"}
    assert target_label("gitlab", "platform/infra/") == "gitlab/platform/infra"
    assert common_parent(["/srv/mirror/a", "/srv/mirror/b/c"]) == "/srv/mirror"
    assert common_parent(["/srv/a", "/home/b"]) == ""


def test_what_a_target_row_says_it_is_doing() -> None:
    snap = demo_data.several_targets()
    acme, infra, tools = snap.targets
    now = snap.now

    def said(target: Any, at: float = now) -> str:
        return target_state_text(target, at).plain

    assert said(acme) == "listing page 22"
    assert said(infra) == "WAITING 0:41 · primary limit, until 08:13:22"
    assert said(infra, now + 30).startswith("WAITING 0:11")
    assert said(infra, now + 60) != "WAITING" and "WAITING" not in said(replace(infra, lister_state=ListerState.FETCHING), now + 60)
    assert said(tools) == "syncing · 2 to go, all listed"
    assert said(replace(acme, buffer_used=500)) == "blocked — buffer full (500)"
    assert said(replace(acme, paused=True)).startswith("PAUSED")
    assert said(replace(tools, run_state=RunState.FINISHED)) == "done"
    assert said(replace(tools, run_state=RunState.FAILED, message="owner not found")) == "FAILED: owner not found"


async def test_several_targets_get_a_panel_a_target_column_and_a_header_total() -> None:
    app, _ = several_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "3 targets → /srv/mirror" in text and "RUNNING" in text
        assert "github.com/acme →" not in text, "the header counts targets instead of naming one"
        acme = line_with(app, "github/acme")
        assert "1,234 / 2,104" in acme and "58%" in acme and "listing page 22" in acme
        infra = line_with(app, "gitlab/platform/infra")
        assert "212 / 640" in infra and "300" in infra and "WAITING 0:41" in infra
        assert "syncing · 2 to go" in line_with(app, "gitea/tools")
        # The worker and error tables say whose repo a row is, and name repos relative to that owner.
        assert "target" in line_with(app, "repository") and "phase" in line_with(app, "repository")
        assert "infra" in line_with(app, "terraform/modules-aws")
        assert "tools" in line_with(app, "ci-runner-images")
        assert "infra" in line_with(app, "fatal: early EOF")
        assert "t" in footer_keys(app) and footer_keys(app)["p"] == "Pause"


async def test_a_single_owner_run_has_no_targets_panel_even_with_one_target_view() -> None:
    several = demo_data.several_targets()
    plain = demo_data.mid_run()
    app, _ = app_for(plain)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = screen_text(app)
    one = replace(plain, targets=several.targets[:1])
    app, _ = app_for(one)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert screen_text(app) == before
        assert "Targets" not in before and "t" not in footer_keys(app)


async def test_the_targets_countdown_follows_the_clock() -> None:
    snap = demo_data.several_targets()
    app, factory = several_app(snap)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "WAITING 0:41" in line_with(app, "gitlab/")
        factory.made[0][1].show(replace(snap, now=snap.now + 30))
        dashboard(app).refresh_snapshot()
        await pilot.pause()
        assert "WAITING 0:11" in line_with(app, "gitlab/")


async def test_target_rows_are_keyed_and_only_a_changed_row_is_rendered_again() -> None:
    snap = demo_data.several_targets()
    app, factory = several_app(snap)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.screen.query_one(TargetsPanel)
        assert panel.row_keys == ["acme", "platform-infra", "tools"]
        acme_line = panel.cached_line("acme")
        assert acme_line is not None
        done = replace(snap.targets[2].counts, cloned=292, queued=0, active=0)
        factory.made[0][1].show(with_target(snap, "tools", counts=done, run_state=RunState.FINISHED))
        dashboard(app).refresh_snapshot()
        await pilot.pause()
        assert panel.row_keys == ["acme", "platform-infra", "tools"]
        assert panel.cached_line("acme") is acme_line, "an unchanged row is not rendered again"
        tools = line_with(app, "gitea/tools")
        assert "312 / 312" in tools and "100%" in tools and tools.rstrip().endswith("done")
        assert "3 targets · 1 done" in screen_text(app)


async def test_p_on_a_selected_target_pauses_it_alone_and_p_again_unpauses_it() -> None:
    app, factory = several_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        control = factory.made[0][1]
        await pilot.press("t", "down")
        await pilot.pause()
        assert app.screen.query_one(TargetsPanel).selected == "platform-infra"
        assert "Target platform-infra: gitlab/platform/infra → /srv/mirror/platform-infra" in screen_text(app)
        assert footer_keys(app)["p"] == "Pause target"
        await pilot.press("p")
        await pilot.pause()
        assert control.calls == ["pause_target platform-infra"]
        assert "PAUSED" in line_with(app, "gitlab/platform/infra")
        assert "PAUSED" not in line_with(app, "github/acme") and "RUNNING" in line_with(app, "gz-tui")
        assert "3 targets · 1 paused" in screen_text(app)
        assert footer_keys(app)["p"] == "Unpause target"
        await pilot.press("p")
        await pilot.pause()
        assert control.calls == ["pause_target platform-infra", "unpause_target platform-infra"]
        assert "PAUSED" not in line_with(app, "gitlab/platform/infra")
        # Escape gives p back to the whole run.
        await pilot.press("escape")
        await pilot.pause()
        assert footer_keys(app)["p"] == "Pause"
        await pilot.press("p")
        await pilot.pause()
        assert control.calls[-1] == "pause" and "PAUSED" in line_with(app, "gz-tui")


async def test_p_with_no_target_selected_pauses_the_run() -> None:
    app, factory = several_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        assert factory.made[0][1].calls == ["pause"]
        assert "PAUSED" in line_with(app, "gz-tui")
        assert "PAUSED" not in line_with(app, "gitlab/platform/infra")


async def test_a_click_selects_a_target_and_t_gives_the_keys_back() -> None:
    app, factory = several_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.screen.query_one(TargetsPanel)
        await pilot.click(TargetsPanel, offset=(2, 3))  # header, acme, platform-infra, tools
        await pilot.pause()
        assert panel.selected == "tools"
        await pilot.press("t")
        await pilot.pause()
        assert panel.selected is None and footer_keys(app)["p"] == "Pause"
        assert factory.made[0][1].calls == []


async def test_a_failed_target_shows_its_message_when_selected_and_cannot_be_paused() -> None:
    message = "gitea owner 'tools' not found [bold](HTTP 404)[/bold]"
    snap = with_target(demo_data.several_targets(), "tools", run_state=RunState.FAILED, message=message)
    app, factory = several_app(snap)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "FAILED" in line_with(app, "gitea/tools")
        await pilot.press("t", "end")
        await pilot.pause()
        assert message in screen_text(app), "the selected target's message, literally, in the panel's title"
        active = app.screen.active_bindings["p"]
        assert active.binding.description == "Pause target" and not active.enabled
        await pilot.press("p")  # nothing to pause, and not the whole run either
        await pilot.pause()
        assert factory.made[0][1].calls == []


async def test_target_names_and_owners_are_never_markup() -> None:
    snap = demo_data.several_targets()
    evil = replace(snap.targets[1], name="[red]grp[/red]", owner="[b]grp[/b]/sub")
    workers = tuple(replace(w, target=evil.name) if w.target == "platform-infra" else w for w in snap.workers)
    app, _ = several_app(replace(snap, targets=(snap.targets[0], evil, snap.targets[2]), workers=workers))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "gitlab/[b]grp[/b]/sub" in screen_text(app)
        await pilot.press("t", "down")
        await pilot.pause()
        assert "Target [red]grp[/red]: gitlab/[b]grp[/b]/sub" in screen_text(app)


async def test_r_after_a_failed_run_of_several_targets_runs_every_target_again() -> None:
    snap = demo_data.several_targets()
    ended = replace(
        snap,
        run_state=RunState.FINISHED,
        exit_code=1,
        targets=tuple(replace(t, run_state=RunState.FINISHED, counts=replace(t.counts, queued=0, active=0)) for t in snap.targets),
        workers=tuple(WorkerView(w.index, WorkerState.DONE) for w in snap.workers),
    )
    app, factory = several_app(ended)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app)
        assert "15 repos failed" in text and "/srv/mirror (3 targets, each with its own folder and state)" in text
        assert "3 targets · 3 done" in text
        assert footer_keys(app)["r"] == "Retry failed"
        await pilot.press("r")
        await pilot.pause()
        again, _ = factory.made[1]
        assert [(s.target, s.provider, s.owner, s.retry_failed) for s in again] == [
            (s.target, s.provider, s.owner, True) for s in demo_data.TARGETS
        ]


async def test_help_explains_selecting_and_pausing_a_target() -> None:
    app, _ = several_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "select one in the Targets panel" in text and "p pauses or unpauses that target" in text


async def test_a_factory_error_with_several_targets_lists_each_as_failed() -> None:
    def factory(targets: Any) -> Any:
        raise ValueError("[targets.tools] base_url is not a URL")

    app = make_app(demo_data.TARGETS, factory, FakeClock(demo_data.NOW))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "3 targets · 3 failed → /srv/mirror" in text and "[targets.tools] base_url is not a URL" in text
        for label in ("github/acme", "gitlab/platform/infra", "gitea/tools"):
            assert "FAILED" in line_with(app, label)


async def test_make_app_takes_a_lone_settings_as_a_run_of_one_target() -> None:
    snap = demo_data.mid_run()
    factory = demo_data.StaticFactory(snap)
    app = make_app(demo_data.SETTINGS, factory, FakeClock(snap.now))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert factory.made[0][0] == [demo_data.SETTINGS]
        assert "github.com/acme → /srv/mirror/acme" in screen_text(app)


def test_progress_is_honest_while_the_listing_has_not_shown_every_repo() -> None:
    """No total and the listing going on: the ETA is a lower bound and the bar draws no fraction it would take back
    once the total comes; a known total (or a finished listing) gives both."""
    from gz_tui.tui.widgets.progress import ProgressPanel

    def shown(snap: Snapshot) -> str:
        return progress_text(snap).variants[0].plain

    snap = demo_data.mid_run()
    unknown = replace(snap, counts=replace(snap.counts, total=None, listed=1_300), lister_state=ListerState.FETCHING)
    assert "ETA ≥ " in shown(unknown) and "listed so far" in shown(unknown)
    assert ProgressPanel().read(unknown).total is None
    known = replace(unknown, counts=replace(unknown.counts, total=2_104))
    assert "ETA ≥" not in shown(known) and ProgressPanel().read(known).total == 2_104
    done_listing = replace(unknown, lister_state=ListerState.DONE)
    assert "ETA ≥" not in shown(done_listing) and ProgressPanel().read(done_listing).total == 1_300


def test_paused_time_is_not_in_the_rate_nor_the_eta() -> None:
    """Ten working seconds at 2 repos/s, then a ten-minute pause: while paused the rate says 0 and the ETA
    says paused; right after the resume the rate is the working seconds' again, not diluted by the pause."""
    from gz_tui.pipeline.stats import Stats
    from gz_tui.tui.widgets.progress import eta_seconds

    clock = FakeClock()
    stats = Stats(workers=2, clock=clock)
    target = stats.add_target(name="acme", forge="github", owner="acme", dest="/d", api_host="api", buffer_capacity=10)
    target.advance(RunState.RUNNING)
    stats.tally.set(total=100, listed=100)
    for _ in range(10):
        for _ in range(2):
            stats.tally.add({"cloned": 1})
            stats.completed()
        clock.advance(1.0)
    before = stats.snapshot()
    assert before.repos_per_second == 2.0
    stats.set_paused(True)
    clock.advance(600.0)
    during = stats.snapshot()
    assert during.repos_per_second == 0.0 and progress_text(during).plain.endswith("ETA paused")
    stats.set_paused(False)
    clock.advance(0.2)
    after = stats.snapshot()
    assert after.repos_per_second == 2.0
    assert after.throughput[-11:-1] == before.throughput[-11:-1]  # the pause left no run of empty seconds
    eta = eta_seconds(after)
    assert eta is not None and 39 <= eta <= 41  # 80 repos to go at 2 a second
    assert "ETA 0:40" in progress_text(after).plain


@pytest.mark.parametrize("width", range(6, 40))
def test_long_names_are_cut_in_the_middle_at_every_width(width: int) -> None:
    """Names of one org share prefixes: a cut keeps both ends, so two repos never read the same."""
    for name in ("legacy-billing-service-v1", "legacy-billing-service-v2", "platform/infra/observability/grafana-dashboards"):
        shown = fit_path(name, width)
        assert len(shown) <= width
        if shown != name:
            assert shown.count("…") == 1 and name.startswith(shown.split("…")[0]) and name.endswith(shown.split("…")[1])
            assert not shown.endswith("…")
    if width < len("legacy-billing-service-v1"):
        assert fit_path("legacy-billing-service-v1", width) != fit_path("legacy-billing-service-v2", width)


def test_a_target_with_repos_to_go_never_reads_as_done_at_any_width() -> None:
    tools = demo_data.several_targets().targets[2]
    at_68 = replace(tools, counts=replace(tools.counts, cloned=0, updated=0, unchanged=212, failed=0, skipped=0))
    fit = target_state_text(at_68, demo_data.several_targets().now)
    for width in range(1, 60):
        shown = fit.choose(width).plain
        assert "done" not in shown and "to go" in shown, (width, shown)


def test_workers_that_wait_for_a_git_slot_or_a_retry_are_not_busy() -> None:
    from gz_tui.tui.widgets.workers import workers_title

    snap = demo_data.several_targets()
    assert workers_title(snap) == "Workers  7/8 busy · 1 waiting"  # the eighth backs off before its retry
    queued = replace(snap.workers[0], phase="throttled, 2 at a time", waiting=True)
    snap = replace(snap, workers=(queued, *snap.workers[1:]))
    assert workers_title(snap) == "Workers  6/8 busy · 2 waiting"


async def test_at_80x24_three_targets_leave_the_error_log_three_rows() -> None:
    app, _ = several_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        errors = app.screen.query_one("#errors")
        rows = errors.scrollable_content_region.height - 1  # less its header
        assert rows >= 3, rows
        assert "secret-sauce" in screen_text(app)  # the third newest error is on screen


async def test_the_selected_targets_bar_keeps_its_colours() -> None:
    from gz_tui.tui.widgets.targets import TargetsPanel

    def bar_colours(panel: TargetsPanel) -> list[str]:
        strip = panel.render_line(1)  # line 0 is the header: the first target's row
        return [str(seg.style.color) for seg in strip if seg.style is not None and "━" in seg.text]

    app, _ = several_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.screen.query_one(TargetsPanel)
        before = bar_colours(panel)
        await pilot.press("t")
        await pilot.pause()
        assert panel.has_focus
        assert bar_colours(panel) == before and len(set(before)) == 2  # done and to-do parts, as on any row


def test_in_a_run_of_several_targets_the_api_row_names_whose_quota_it_shows() -> None:
    snap = demo_data.several_targets()
    assert rate_limit_text(snap).choose(100).plain.startswith("gitlab/platform/infra: WAITING primary limit: waiting 0:41")
    assert rate_limit_text(snap).choose(46).plain == "gitlab: WAITING primary limit: waiting 0:41"
    one = demo_data.mid_run()
    assert rate_limit_text(one).choose(100).plain.startswith("4,211 / 5,000 left")  # the header names the one forge
