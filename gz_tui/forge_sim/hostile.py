"""Hostile listing entries: names and clone URLs a forge (or an attacker controlling one) could send.

Each entry is otherwise normal, so a client is tested on exactly one dangerous field at a time
(FORGE-APIS §5.3: ext:: transport, file://, option injection, path traversal, markup, userinfo).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HostileEntry:
    """One extra listing entry; ``clone_url`` may hold ``{hostport}`` and ``{org}`` placeholders."""

    name: str
    clone_url: str | None = None
    owner: str | None = None
    servable: bool = False


HOSTILE_NAMES: tuple[str, ...] = (
    "../escape",
    "a/b",
    "-rf",
    "bad\nname",
    "\x1b[31mred",
    "[bold]markup[/bold]",
    ".git",
    ".",
    "Dup-Case",
    "dup-case",
    "n" * 256,  # one byte over NAME_MAX on nearly every file system
)

HOSTILE_URLS: tuple[tuple[str, str], ...] = (
    ("evil-ext", "ext::sh -c touch% /tmp/pwned"),
    ("evil-file", "file:///etc/passwd"),
    ("evil-host", "https://evil.example.invalid/x.git"),
    ("evil-upload-pack", "--upload-pack=touch /tmp/pwned"),
    ("evil-u", "-uwhatever"),
    ("userinfo", "http://user:pw@{hostport}/{org}/userinfo.git"),
)


def hostile_entries() -> list[HostileEntry]:
    """All hostile entries plus the legitimate ``.github`` repo, which must clone fine."""
    entries = [HostileEntry(name) for name in HOSTILE_NAMES]
    entries += [HostileEntry(name, clone_url=url) for name, url in HOSTILE_URLS]
    entries.append(HostileEntry("stolen", clone_url="http://{hostport}/other/stolen.git", owner="other"))
    entries.append(HostileEntry(".github", servable=True))
    return entries
