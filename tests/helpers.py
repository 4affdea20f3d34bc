"""Helpers for end-to-end tests: running the pipeline in-process and inspecting processes and trees."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from gz_tui.config import Settings
from gz_tui.pipeline.context import EventSink
from gz_tui.pipeline.events import Emitted
from gz_tui.pipeline.runner import Pipeline


def token_variable(provider: str) -> str:
    """The first environment variable a provider's token is read from."""
    from gz_tui.forges.registry import provider_info

    return provider_info(provider).token_env_vars[0]


def git_path_name(path: str, owner: str) -> str | None:
    """The repo (path below the owner) a logged git request path names, at any flavour's URL (``/acme/x.git/…``,
    Data Center's ``/scm/acme/x.git/…``, Bitbucket Cloud's wiki ``/acme/x.git/wiki/…``, Gogs's ``/gogs/acme/x.git/…``,
    Sourcehut's ``/~acme/x/…``), or None."""
    path = path.split("?", 1)[0]
    for subpath in ("/scm/", "/gogs/"):
        path = "/" + path.removeprefix(subpath) if path.startswith(subpath) else path
    if path.lower().startswith(f"/~{owner.lower()}/"):
        return path[len(owner) + 3 :].split("/", 1)[0].removesuffix(".git")
    prefix = f"/{owner}/"
    if not path.lower().startswith(prefix.lower()) or ".git/" not in path:
        return None
    return path[len(prefix) :].split(".git/", 1)[0]


def settings_for(sim: Any, dest: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = dict(owner=sim.org, base_url=sim.base_url, dest=dest, workers=4, buffer=50, headless=True)
    values.update(changes)
    return Settings(**values)


def json_sink(receive: Callable[[dict[str, Any]], object]) -> EventSink:
    """A pipeline event sink that hands ``receive`` each event as the JSON object ``gz-tui --json`` prints for it."""

    def sink(emitted: Emitted) -> None:
        receive(emitted.as_dict())

    return sink


def run_pipeline(settings: Settings, **kwargs: Any) -> tuple[int, Pipeline, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    pipeline = Pipeline(settings, events=json_sink(events.append), **kwargs)
    code = anyio.run(pipeline.run)
    return code, pipeline, events


def git_processes_touching(path: Path) -> list[int]:
    """PIDs of live git processes whose command line or working directory is inside ``path``."""
    root = str(path.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if not argv or not os.path.basename(argv[0].decode(errors="replace")).startswith("git"):
                continue
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if root in b" ".join(argv).decode(errors="replace") or cwd.startswith(root):
            found.append(int(entry.name))
    return found


def repo_dirs(dest: Path) -> set[str]:
    """Relative paths of git clones under dest (top level, and nested for GitLab); temp clones excluded."""
    found = set()
    for folder, subdirs, _ in os.walk(dest):
        if ".git" in subdirs:
            found.add(Path(folder).relative_to(dest).as_posix())
        subdirs[:] = [d for d in subdirs if d not in (".git", ".gz-tui")]
    return found


def interrupt_when(process: subprocess.Popen[str], condition: Callable[[], bool], timeout: float = 30) -> tuple[str, str]:
    """Send Ctrl+C (SIGINT) to a running CLI once ``condition`` holds; return its output."""
    import signal
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=10)


def github_listing(base_url: str, org: str, token: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
    """Every repo object of an org (or of ``path``), following Link next (a plain client, independent of gz-tui's)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url: str | None = f"{base_url}{path or f'/orgs/{org}/repos'}?per_page=100"
    items: list[dict[str, Any]] = []
    with httpx.Client(headers=headers) as client:
        while url:
            response = client.get(url)
            response.raise_for_status()
            items.extend(response.json())
            url = response.links.get("next", {}).get("url")
    return items


def screen_text(app: Any) -> str:
    """What a Textual app's terminal shows right now, as plain lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def run_cancelled_when(settings: Settings, stop: Callable[[list[dict[str, Any]]], bool], **kwargs: Any) -> tuple[int, list[dict[str, Any]]]:
    """Run the pipeline in-process and cancel it (as Ctrl+C would) once ``stop(events so far)`` holds."""
    events: list[dict[str, Any]] = []

    def receive(event: dict[str, Any]) -> None:
        events.append(event)
        if stop(events):
            pipeline.cancel()

    pipeline = Pipeline(settings, events=json_sink(receive), **kwargs)
    return anyio.run(pipeline.run), events


def events_match_their_declarations(events: list[dict[str, Any]]) -> None:
    """Every JSON event has exactly the keys its declaration in ``gz_tui.pipeline.events`` gives it."""
    import dataclasses

    from gz_tui.pipeline.events import EVENTS

    declared = {}
    for kind in EVENTS:
        fields = dataclasses.fields(kind)
        required = {"event", "time", "target"} | {f.name for f in fields if not f.metadata.get("optional")}
        declared[kind.name] = (required, {f.name for f in fields if f.metadata.get("optional")})
    for event in events:
        assert event["event"] in declared, f"undeclared event {event['event']!r}"
        required, optional = declared[event["event"]]
        keys = set(event)
        assert required <= keys, (event["event"], required - keys)
        assert keys <= required | optional, (event["event"], keys - required - optional)
