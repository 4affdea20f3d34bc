"""Just enough of git's on-disk format to mint bare repos without spawning git.

Writing three loose objects and a ref per repo takes about a millisecond, where ``git init`` +
``git commit`` per repo would cost tens of processes; the one big shared blob goes into a
packfile written here too, so it can be hard-linked into every repo and reused verbatim by
``git upload-pack``.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from pathlib import Path

BARE_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n"
AUTHOR = "Forge Sim <forge-sim@example.invalid>"


def init_bare(path: Path, branch: str = "main") -> None:
    """Create the skeleton git recognises as a bare repository."""
    for sub in ("objects/info", "objects/pack", "refs/heads", "refs/tags", "info"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    (path / "HEAD").write_text(f"ref: refs/heads/{branch}\n")
    (path / "config").write_text(BARE_CONFIG)
    (path / "description").write_text("gz-tui forge_sim repository\n")


def object_id(kind: str, data: bytes) -> tuple[str, bytes]:
    """The sha1 hex of a git object and its full (header + payload) bytes."""
    full = f"{kind} {len(data)}\0".encode() + data
    return hashlib.sha1(full).hexdigest(), full


def write_loose(repo: Path, kind: str, data: bytes) -> str:
    """Store an object as a loose file (idempotent) and return its id."""
    sha, full = object_id(kind, data)
    target = repo / "objects" / sha[:2] / sha[2:]
    if not target.exists():
        target.parent.mkdir(exist_ok=True)
        tmp = target.with_name(f".tmp-{sha[2:]}-{os.getpid()}-{id(data)}")
        tmp.write_bytes(zlib.compress(full, 1))
        os.replace(tmp, target)
    return sha


def tree_bytes(entries: dict[str, str]) -> bytes:
    """A tree of regular files (name -> blob id), sorted the way git requires."""
    out = bytearray()
    for name in sorted(entries, key=lambda n: n.encode()):
        out += b"100644 " + name.encode() + b"\0" + bytes.fromhex(entries[name])
    return bytes(out)


def commit_bytes(tree: str, parent: str | None, when: int, message: str) -> bytes:
    lines = [f"tree {tree}"]
    if parent:
        lines.append(f"parent {parent}")
    lines.append(f"author {AUTHOR} {when} +0000")
    lines.append(f"committer {AUTHOR} {when} +0000")
    return ("\n".join(lines) + "\n\n" + message.rstrip("\n") + "\n").encode()


def write_ref(repo: Path, ref: str, sha: str) -> None:
    """Point ``ref`` at ``sha`` atomically (a concurrent reader sees the old or the new value)."""
    target = repo / ref
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{sha[:8]}")
    tmp.write_text(sha + "\n")
    os.replace(tmp, target)


def read_ref(repo: Path, ref: str) -> str:
    return (repo / ref).read_text().strip()


def write_single_blob_pack(pack_dir: Path, data: bytes) -> str:
    """Write ``pack-*.pack`` + ``.idx`` (v2) holding one blob; returns the blob id.

    Stored with zlib level 0: the data is random, so compressing it would only burn CPU.
    """
    sha, _ = object_id("blob", data)
    size = len(data)
    header = bytearray()
    byte = (3 << 4) | (size & 0x0F)  # type 3 = blob
    size >>= 4
    while size:
        header.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    header.append(byte)
    entry = bytes(header) + zlib.compress(data, 0)
    body = b"PACK" + struct.pack(">II", 2, 1) + entry
    pack_sha = hashlib.sha1(body).digest()
    pack = body + pack_sha
    fanout = b"".join(struct.pack(">I", 0 if i < int(sha[:2], 16) else 1) for i in range(256))
    idx_body = (
        b"\xfftOc"
        + struct.pack(">I", 2)
        + fanout
        + bytes.fromhex(sha)
        + struct.pack(">I", zlib.crc32(entry) & 0xFFFFFFFF)
        + struct.pack(">I", 12)
        + pack_sha
    )
    idx = idx_body + hashlib.sha1(idx_body).digest()
    name = f"pack-{pack_sha.hex()}"
    pack_dir.mkdir(parents=True, exist_ok=True)
    (pack_dir / f"{name}.pack").write_bytes(pack)
    (pack_dir / f"{name}.idx").write_bytes(idx)
    return sha
