"""The live dashboard: owns one run of the pipeline, renders its snapshot on a fixed tick, maps keys to it.

A run has one target (an owner on a forge) or several, synced by one worker pool. With several, a targets
panel shows each one's progress and lister, the worker and error tables say whose repo a row is, and the
user can pause one target on its own (``t`` to select it, ``p``) while ``p`` elsewhere pauses the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import ClassVar, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from gz_tui.clock import SYSTEM_CLOCK, Clock
from gz_tui.config import Settings
from gz_tui.kinds import ExitCode
from gz_tui.pipeline.control import PipelineFactory, RunControl
from gz_tui.pipeline.snapshot import RunState, Snapshot
from gz_tui.tui.format import thousands
from gz_tui.tui.keys import KeyHelp, KeySource, declared, key_table
from gz_tui.tui.screens.confirm import ConfirmScreen
from gz_tui.tui.screens.error_detail import ErrorDetailScreen
from gz_tui.tui.screens.help import HelpScreen
from gz_tui.tui.screens.prune import PruneScreen
from gz_tui.tui.widgets import (
    BufferGauge,
    ErrorLog,
    ProgressPanel,
    RateLimitPanel,
    RunSummary,
    StatusHeader,
    TargetsPanel,
    ThroughputPanel,
    WorkerTable,
)

TICK_SECONDS = 0.25
"""Render rate: the dashboard reads one snapshot per tick, whatever the pipeline's event rate."""

QUIT_GRACE_SECONDS = 5.0
"""After a confirmed quit, how long the pipeline gets to stop cleanly before its worker is cancelled."""

EXIT_CRASHED = ExitCode.USAGE

Next = Literal["resume", "retry"] | None

_PAUSE_HELP = (
    "Pause the run: workers finish their current repo and take nothing new; the buffer fills and "
    "the lister stops asking the API. Press p again to carry on."
)
_AGAIN_HELP = "After a cancel, or a finish with failures: run again from the checkpoint, retrying the failures."


class DashboardScreen(Screen[None]):
    AUTO_FOCUS = ""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause", id="pause", tooltip="Let workers finish their current repo and take nothing new"),
        Binding("p", "unpause", "Unpause", id="unpause", tooltip="Carry on after a pause"),
        Binding("c", "cancel", "Cancel", id="cancel", tooltip="Cancel the run: stop git, keep finished repos and the checkpoint"),
        Binding("r", "resume", "Resume", id="resume", tooltip="Run again from the checkpoint, retrying failures"),
        Binding("r", "retry", "Retry failed", id="retry", tooltip="Run again from the checkpoint, retrying the failed repos"),
        Binding("t", "targets", "Targets", id="targets", tooltip="Select one target of the run, to pause or unpause it on its own"),
        Binding("e", "errors", "Errors", id="errors", tooltip="Enlarge the error log"),
        Binding("escape", "back", "Back", id="back", tooltip="Back from the enlarged error log"),
        Binding("question_mark", "help", "Help", id="help", tooltip="What the panels mean and which keys apply"),
        Binding(
            "q",
            "quit",
            "Quit",
            id="quit",
            tooltip="Leave gz-tui; while a run is going it asks first, then stops it cleanly (checkpoint saved: the next run resumes)",
        ),
    ]
    """The dashboard's keys; the command palette (``commands``) and the help screen (``key_help``) are read from them."""

    KEY_HELP: ClassVar[dict[str, str]] = {
        "pause": _PAUSE_HELP,
        "unpause": _PAUSE_HELP,
        "targets": "In a run of several targets: select one in the Targets panel (↑/↓ or a click move the "
        "selection, t or Escape gives the keys back to the run). p then pauses just that target: its "
        "repos wait, its buffer fills, its lister stops; the other targets carry on. p again unpauses it.",
        "cancel": "Cancel the run (asks first). Git is stopped, partial clones are removed, finished repos and the checkpoint are kept.",
        "resume": _AGAIN_HELP,
        "retry": _AGAIN_HELP,
        "errors": "Enlarge the error log (Enter on an error shows its full text; e or Escape goes back).",
        "quit": "Quit. While a run is going it asks first, stops the run cleanly and exits with code 130.",
        "help": "This help.",
    }
    """What the help screen says of a key where its tooltip is not the whole story (``gz_tui.tui.keys``)."""

    def __init__(self, targets: Sequence[Settings], factory: PipelineFactory, clock: Clock = SYSTEM_CLOCK, *, demo: bool = False) -> None:
        super().__init__(id="dashboard")
        self.demo = demo
        """A ``--demo`` run: its forge plants hostile entries, and its end says those are its failures."""
        if not targets:
            raise ValueError("a run needs at least one target")
        self.targets = tuple(targets)
        """The settings of each target of the run, in order (one for a single owner)."""
        self.factory = factory
        self.clock = clock
        self.control: RunControl | None = None
        self.exit_code: int | None = None
        """The current run's exit code once it has ended."""
        self.crash: str | None = None
        """Why the pipeline itself crashed, when it did."""
        self.snap: Snapshot | None = None
        """The snapshot rendered last."""
        self._worker: Worker[int] | None = None
        self._stopping = False
        self._quitting = False
        self._keys_state: tuple[object, ...] = ()
        self._notices_shown = 0
        self._prune_asked: object | None = None
        """The prune question on screen (or answered), so one question is asked once."""

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        with Vertical(id="panels"):
            yield ProgressPanel(id="progress")
            yield ThroughputPanel(id="throughput")
            yield BufferGauge(id="buffer")
            yield RateLimitPanel(id="rate-limit")
        yield TargetsPanel(id="targets")
        yield WorkerTable(id="workers")
        yield RunSummary(id="summary")
        yield ErrorLog(id="errors")
        yield Footer()

    def on_mount(self) -> None:
        self.start_run(self.targets)
        self.set_interval(TICK_SECONDS, self.refresh_snapshot, name="render-tick")

    # -- the run -----------------------------------------------------------------------------
    @property
    def run_active(self) -> bool:
        """True from the start of ``run()`` until it has returned (or crashed)."""
        return self._worker is not None and self._worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def start_run(self, targets: Sequence[Settings]) -> None:
        """Build a pipeline for ``targets`` and run it in the exclusive "pipeline" worker."""
        self.exit_code = None
        self.crash = None
        self._stopping = False
        self._notices_shown = 0
        self.query_one(WorkerTable).reset()
        self.query_one(ErrorLog).reset()
        self.query_one(TargetsPanel).reset()
        try:
            self.control = self.factory(list(targets))
        except Exception as exc:  # a bad setting: nothing ran, say why
            self.control = None
            self._worker = None
            self._crashed(exc, what="could not start the run")
            return
        self._worker = self._run_pipeline(self.control)
        self.refresh_snapshot()

    @work(group="pipeline", exclusive=True, exit_on_error=False, name="pipeline")
    async def _run_pipeline(self, control: RunControl) -> int:
        return await control.run()

    @on(Worker.StateChanged)
    def _pipeline_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "pipeline" or worker is not self._worker:
            return
        if event.state == WorkerState.SUCCESS:
            self.exit_code = worker.result if isinstance(worker.result, int) else 0
        elif event.state == WorkerState.ERROR:
            self._crashed(worker.error)
        elif event.state == WorkerState.CANCELLED:
            self.exit_code = ExitCode.INTERRUPTED
        else:
            return
        if self._quitting:
            self.app.exit(ExitCode.INTERRUPTED, return_code=ExitCode.INTERRUPTED)
            return
        self.refresh_snapshot()

    def _crashed(self, error: BaseException | None, what: str = "the pipeline crashed") -> None:
        kind = type(error).__name__ if error is not None else "error"
        head = f"{what[0].upper()}{what[1:]} ({kind})"
        self.crash = f"{head}: {error}" if str(error or "") else head
        self.exit_code = EXIT_CRASHED
        self.notify(self.crash, title="Run failed", severity="error", markup=False, timeout=10)
        self.refresh_snapshot()

    # -- rendering ---------------------------------------------------------------------------
    def _current_snapshot(self) -> Snapshot | None:
        if self.control is None:
            return Snapshot.placeholder(self.targets, now=self.clock.now(), message=self.crash) if self.crash is not None else self.snap
        snap = self.control.snapshot()
        if self.crash is not None:
            return replace(snap, run_state=RunState.FAILED, message=self.crash)
        if not self.run_active and not snap.run_state.terminal:
            # run() has returned but the snapshot still says otherwise: trust the exit code.
            state = {0: RunState.FINISHED, 1: RunState.FINISHED, ExitCode.INTERRUPTED: RunState.CANCELLED}.get(
                self.exit_code if self.exit_code is not None else 0, RunState.FAILED
            )
            return replace(snap, run_state=state)
        return snap

    def closing_snapshot(self) -> Snapshot | None:
        """The last word on the run: read once more as it ends (the render tick may be a little behind)."""
        return self._current_snapshot() or self.snap

    def refresh_snapshot(self) -> None:
        """The render tick: read one snapshot and hand it to every panel."""
        snap = self._current_snapshot()
        if snap is None:
            return
        self.snap = snap
        ended = not self.run_active
        with self.app.batch_update():
            self.query_one(StatusHeader).update_snapshot(snap, stopping=self._stopping and not ended)
            self.query_one(ProgressPanel).update_snapshot(snap)
            self.query_one(ThroughputPanel).update_snapshot(snap)
            self.query_one(BufferGauge).update_snapshot(snap)
            self.query_one(RateLimitPanel).update_snapshot(snap)
            several = len(snap.targets) > 1
            if several:
                self.query_one(TargetsPanel).update_snapshot(snap, steerable=self._steering)
            self.set_class(several, "-several")
            if ended:
                self.query_one(RunSummary).update_snapshot(snap, exit_code=self.exit_code, hint=self._hint(snap))
            else:
                self.query_one(WorkerTable).update_snapshot(snap)
            self.query_one(ErrorLog).update_snapshot(snap)
            self.set_class(ended, "-ended")
            self.set_class(snap.error_count == 0, "-no-errors")
        for notice in snap.notices[self._notices_shown :]:
            self.notify(notice, title="Note", severity="warning", timeout=15, markup=False)
        self._notices_shown = len(snap.notices)
        self._ask_prune(snap)
        self._refresh_keys()

    def _ask_prune(self, snap: Snapshot) -> None:
        """``--prune`` waits for an answer before it moves anything: ask it in a modal, once."""
        question = snap.prune_question
        if question is None or question is self._prune_asked or self.control is None:
            return
        self._prune_asked = question
        control = self.control

        def answered(yes: bool | None) -> None:
            control.answer_prune(question.target, bool(yes))

        self.app.push_screen(PruneScreen(question), answered)

    def _hint(self, snap: Snapshot) -> Text:
        hint = Text()
        nxt = self._next_run()
        counts = snap.counts
        retryable = counts.failed - counts.failed_permanent
        if nxt == "retry":
            hint.append("r", style="bold reverse")
            hint.append(f" retry {thousands(retryable)} failed")
            if counts.failed_permanent:
                hint.append(f" ({thousands(counts.failed_permanent)} more would fail again)")
            hint.append("   ")
        elif counts.failed_permanent and nxt is None and snap.run_state == RunState.FINISHED:
            if self.demo:  # the demo forge's hostile entries: failures on purpose, to show what gz-tui refuses
                hint.append(f"{thousands(counts.failed_permanent)} refused for good: the demo's planted hostile entries   ")
            else:
                hint.append(f"{thousands(counts.failed_permanent)} failed for good: a retry would not change them   ")
        elif nxt == "resume":
            hint.append("r", style="bold reverse")
            hint.append(" resume from the checkpoint   ")
        if snap.error_count:
            hint.append("e", style="bold reverse")
            hint.append(" errors   ")
        hint.append("q", style="bold reverse")
        hint.append(f" quit (exit code {self.exit_code if self.exit_code is not None else 0})")
        return hint

    def _refresh_keys(self) -> None:
        state = (
            self.run_active,
            self._stopping,
            self.control.paused if self.control is not None and self.run_active else False,
            self._next_run(),
            bool(self.snap and self.snap.error_count),
            self.maximized is not None,
            self.query_one(TargetsPanel).keys_state(),
        )
        if state != self._keys_state:
            self._keys_state = state
            self.refresh_bindings()

    # -- keys --------------------------------------------------------------------------------
    def _next_run(self) -> Next:
        """What ``r`` would do now: resume an interrupted run, retry failures, or nothing."""
        if self.run_active or self.snap is None or self.snap.dry_run or self._quitting:
            return None
        if self.crash is None and self.snap.run_state == RunState.FAILED and self.exit_code == ExitCode.USAGE:
            return None  # owner not found, token refused, setup impossible: the same run would fail the same way
        if self.crash is not None or self.snap.run_state in (RunState.CANCELLED, RunState.FAILED):
            return "resume"
        if self.snap.counts.failed > self.snap.counts.failed_permanent:
            return "retry"
        return None

    @property
    def _steering(self) -> bool:
        """The run is going and not stopping: pause and cancel mean something."""
        return self.run_active and not self._stopping and self.control is not None

    def _several(self) -> bool:
        return self.snap is not None and len(self.snap.targets) > 1

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        steering = self._steering
        if action in ("pause", "unpause") and self.query_one(TargetsPanel).has_focus:
            return False  # p is the selected target's (TargetsPanel), never the whole run's
        if action == "pause":
            return steering and not self.control.paused  # type: ignore[union-attr]
        if action == "unpause":
            return steering and self.control.paused  # type: ignore[union-attr]
        if action == "targets":
            return self._several() and self.maximized is None
        if action == "cancel":
            return steering
        if action in ("resume", "retry"):
            return self._next_run() == action
        if action == "errors":
            return self.maximized is not None or bool(self.snap and self.snap.error_count)
        if action == "back":
            return self.maximized is not None
        return True

    def action_pause(self) -> None:
        if self.control is not None:
            self.control.pause()
        self.refresh_snapshot()

    def action_unpause(self) -> None:
        if self.control is not None:
            self.control.unpause()
        self.refresh_snapshot()

    def action_cancel(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes and self.run_active and self.control is not None:
                self._stopping = True
                self.control.cancel()
                self.refresh_snapshot()

        self.app.push_screen(
            ConfirmScreen(
                "Cancel the run?",
                "Git is stopped and partial clones are removed. Finished repos and the checkpoint are kept: "
                "press r afterwards (or run gz-tui again) to carry on from where it stopped.",
                yes="Cancel the run",
                no="Keep going",
                kind="cancel",
            ),
            answered,
        )

    @on(TargetsPanel.PauseRequested)
    def _pause_target(self, event: TargetsPanel.PauseRequested) -> None:
        if self.control is not None and self._steering:
            if event.pause:
                self.control.pause_target(event.name)
            else:
                self.control.unpause_target(event.name)
        self.refresh_snapshot()

    def action_targets(self) -> None:
        """``t``: select a target (the targets panel takes the keys), or give the keys back to the run."""
        panel = self.query_one(TargetsPanel)
        if panel.has_focus:
            self.set_focus(None)
        else:
            panel.focus()
        self._refresh_keys()

    def _again(self) -> list[Settings]:
        return [replace(s, retry_failed=True) for s in self.targets]

    def action_resume(self) -> None:
        self.start_run(self._again())

    def action_retry(self) -> None:
        self.start_run(self._again())

    def action_errors(self) -> None:
        log = self.query_one(ErrorLog)
        if self.maximized is not None:
            self.minimize()
            self.set_focus(None)
        else:
            log.focus()
            self.maximize(log, container=False)
        self._refresh_keys()

    def action_back(self) -> None:
        if self.maximized is not None:
            self.action_errors()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.key_help()))

    def key_help(self) -> list[KeyHelp]:
        """The help screen's key table: the keys of the dashboard, of the two panels that take keys (those the
        footer shows) and the app's global ones, read from their bindings."""
        return key_table(
            KeySource.of(self.BINDINGS, self.KEY_HELP),
            KeySource.of(TargetsPanel.BINDINGS, TargetsPanel.KEY_HELP, shown_only=True),
            KeySource.of(ErrorLog.BINDINGS, shown_only=True),
            KeySource.of(self.app.BINDINGS),
        )

    def commands(self) -> list[SystemCommand]:
        """The command palette's entries: each of the dashboard's keys that applies now (``check_action``),
        titled as in the footer and explained by its tooltip."""
        return [
            SystemCommand(binding.description, binding.tooltip, partial(self.run_action, binding.action))
            for binding in declared(self.BINDINGS)
            if self.check_action(binding.action, ())
        ]

    def action_quit(self) -> None:
        self.request_quit()

    @on(ErrorLog.Selected)
    def _show_error(self, event: ErrorLog.Selected) -> None:
        now = self.snap.now if self.snap is not None else self.clock.now()
        self.app.push_screen(ErrorDetailScreen(event.error, now))

    # -- quitting ----------------------------------------------------------------------------
    def request_quit(self) -> None:
        """``q``, Ctrl+C, Ctrl+Q and the palette's Quit: leave now, or ask first while a run is going."""
        if not self.run_active:
            code = self.exit_code if self.exit_code is not None else 0
            # After the key that asked has been handled: exiting within it empties the screen stack while the
            # app still checks that key's bindings (seen as a ScreenStackError on a loaded machine).
            self.app.call_later(self.app.exit, code, return_code=code)
            return
        if self._quitting:
            return
        top = self.app.screen
        if isinstance(top, ConfirmScreen):
            if top.kind == "quit":  # Ctrl+C twice: yes, really
                top.dismiss(True)
                return
            top.dismiss(False)

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            if not self.run_active:
                self.request_quit()
                return
            self._quitting = True
            self._stopping = True
            if self.control is not None:
                self.control.cancel()
            self.set_timer(QUIT_GRACE_SECONDS, self._force_quit, name="quit-grace")
            self.refresh_snapshot()

        self.app.push_screen(
            ConfirmScreen(
                "Quit while the run is going?",
                "The run is stopped cleanly first (git killed, partial clones removed, the checkpoint saved), "
                "so the next gz-tui run carries on from here. Press Ctrl+C again to quit.",
                yes="Quit",
                no="Keep going",
                kind="quit",
            ),
            answered,
        )

    def _force_quit(self) -> None:
        """The pipeline did not stop within the grace period: cancel its worker and leave anyway."""
        if self._worker is not None and self.run_active:
            self._worker.cancel()
        self.app.exit(ExitCode.INTERRUPTED, return_code=ExitCode.INTERRUPTED)
