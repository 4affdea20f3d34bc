"""Bare repositories on disk, created lazily and cheaply the first time anyone needs one.

A 100,000-repo org must not need 100,000 directories: a repo exists on disk only once git (or a
test through ``head_of``/``push_commit``) asks for it. Each gets a unique first commit (a README
naming it), written directly in git's object format; the optional heavy blob lives in one
packfile made once per forge and hard-linked into every repo.
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import uuid
from pathlib import Path

from gz_tui.forge_sim import git_objects as go
from gz_tui.forge_sim.lfs import GITATTRIBUTES, LfsObject, LfsPlan, lfs_object, store_object

BRANCH = "main"
HEAD_REF = f"refs/heads/{BRANCH}"
BIG_FILE = "data.bin"
EXTRA_REFS = ("refs/heads/develop", "refs/tags/v1.0")
"""Refs every repo has besides ``main`` (on its first commit): what a mirror must copy, and a working clone need not."""


class RepoStore:
    """Creates and mutates bare repos under ``root/{owner}/{name}.git``; safe across threads."""

    def __init__(
        self, root: Path, repo_size_kb: int = 0, seed: int = 0, *, heavy_history: bool = False, lfs: LfsPlan | None = None
    ) -> None:
        self.root = root
        self.lfs = lfs
        """The repos that carry Git LFS files (``Scenario.lfs_repos``)."""
        self._lfs_added: dict[Path, list[LfsObject]] = {}
        self._repo_size_kb = repo_size_kb
        self._heavy_history = heavy_history
        """The heavy blob only in the first commit: HEAD (a second commit) no longer has it."""
        self._seed = seed
        self._lock = threading.Lock()
        self._repo_locks: dict[Path, threading.Lock] = {}
        self._template: Path | None = None
        self._big_blob: str | None = None
        self._pushes: dict[Path, int] = {}

    def path_for(self, owner: str, name: str) -> Path:
        return self.root / owner / f"{name}.git"

    def _lock_for(self, path: Path) -> threading.Lock:
        with self._lock:
            return self._repo_locks.setdefault(path, threading.Lock())

    def _ensure_template(self) -> Path | None:
        """The shared heavy-blob pack, written once (only when ``repo_size_kb`` asks for one)."""
        if self._repo_size_kb <= 0:
            return None
        with self._lock:
            if self._template is None:
                template = self.root / ".template"
                pack_dir = template / "objects" / "pack"
                shutil.rmtree(template, ignore_errors=True)
                data = random.Random(self._seed).randbytes(self._repo_size_kb * 1024)
                self._big_blob = go.write_single_blob_pack(pack_dir, data)
                self._template = template
            return self._template

    def ensure(self, owner: str, name: str, created: int) -> Path:
        """Return the repo's path, creating it first if needed (concurrent callers wait, then share)."""
        path = self.path_for(owner, name)
        if (path / HEAD_REF).exists():
            return path
        with self._lock_for(path):
            if (path / HEAD_REF).exists():
                return path
            template = self._ensure_template()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f".tmp-{uuid.uuid4().hex}"
            go.init_bare(tmp, BRANCH)
            if template is not None:
                for packfile in (template / "objects" / "pack").iterdir():
                    _link_or_copy(packfile, tmp / "objects" / "pack" / packfile.name)
            title = _title(name)
            readme = f"# {title}\n\nServed by gz-tui forge_sim.\n"
            self._store_lfs(tmp, name)
            lfs = self._lfs_entries(tmp, path, name)
            sha = self._commit(tmp, title, None, created, readme, "Initial commit", heavy=True, extra=lfs)
            if self._heavy_history and template is not None:
                sha = self._commit(tmp, title, sha, created, readme, f"Remove {BIG_FILE}", heavy=False, extra=lfs)
            go.write_ref(tmp, HEAD_REF, sha)
            for ref in EXTRA_REFS:
                go.write_ref(tmp, ref, sha)
            try:
                os.rename(tmp, path)
            except OSError:  # another process made it first; theirs is as good as ours
                shutil.rmtree(tmp, ignore_errors=True)
            return path

    def _store_lfs(self, repo: Path, name: str) -> None:
        """A repo with LFS files: its objects in its own LFS store (``lfs/objects``)."""
        if self.lfs is None:
            return
        for item in self.lfs.objects(name):
            store_object(repo, item)

    def _lfs_entries(self, repo: Path, final: Path, name: str) -> dict[str, str]:
        """The tree entries of a repo's LFS files (pointers), ``.gitattributes`` and ``.lfsconfig`` (none without LFS)."""
        if self.lfs is None:
            return {}
        items = [*self.lfs.objects(name), *self._lfs_added.get(final, [])]
        if not items:
            return {}
        entries = {item.path: go.write_loose(repo, "blob", item.pointer) for item in items}
        entries[".gitattributes"] = go.write_loose(repo, "blob", GITATTRIBUTES.encode())
        config = self.lfs.lfsconfig(name)
        if config is not None:
            entries[".lfsconfig"] = go.write_loose(repo, "blob", config)
        return entries

    def _commit(
        self,
        repo: Path,
        name: str,
        parent: str | None,
        when: int,
        readme: str,
        message: str,
        *,
        heavy: bool,
        extra: dict[str, str] | None = None,
    ) -> str:
        entries = {"README.md": go.write_loose(repo, "blob", readme.encode())}
        if self._big_blob is not None and heavy:
            entries[BIG_FILE] = self._big_blob
        entries.update(extra or {})
        tree = go.write_loose(repo, "tree", go.tree_bytes(entries))
        return go.write_loose(repo, "commit", go.commit_bytes(tree, parent, when, f"{message}: {name}"))

    def head(self, path: Path) -> str:
        return go.read_ref(path, HEAD_REF)

    def push(self, owner: str, name: str, created: int, when: int) -> str:
        """Add a commit on the default branch (new README text) and return its id."""
        path = self.ensure(owner, name, created)
        self._ensure_template()  # the repo may predate this store (reused root): keep its big file
        with self._lock_for(path):
            parent = go.read_ref(path, HEAD_REF)
            count = self._pushes.get(path, 0) + 1
            self._pushes[path] = count
            title = _title(name)
            readme = f"# {title}\n\nServed by gz-tui forge_sim.\n\nUpdate {count}.\n"
            lfs = self._lfs_entries(path, path, name)
            sha = self._commit(path, title, parent, max(when, created), readme, f"Update {count}", heavy=not self._heavy_history, extra=lfs)
            go.write_ref(path, HEAD_REF, sha)
            return sha

    def push_lfs(self, owner: str, name: str, created: int, when: int, data: bytes) -> str:
        """Add a commit with one more LFS file (``lfs-update-N.bin`` holding ``data``) and return its object id."""
        path = self.ensure(owner, name, created)
        with self._lock_for(path):
            added = self._lfs_added.setdefault(path, [])
            item = lfs_object(f"lfs-update-{len(added) + 1}.bin", data)
            store_object(path, item)
            added.append(item)
        self.push(owner, name, created, when)
        return item.oid

    def lfs_files(self, owner: str, name: str, created: int) -> dict[str, bytes]:
        """The LFS files of the repo's HEAD (path → contents)."""
        path = self.ensure(owner, name, created)
        if self.lfs is None:
            return {}
        return {item.path: item.data for item in [*self.lfs.objects(name), *self._lfs_added.get(path, [])]}

    def set_ref(self, owner: str, name: str, created: int, ref: str, sha: str | None) -> None:
        """Point ``ref`` at ``sha`` (an existing commit), or delete it (``sha`` None)."""
        path = self.ensure(owner, name, created)
        with self._lock_for(path):
            if sha is not None and max(len(part.encode()) for part in ref.split("/")) > 250:
                # Longer than a file name may be: a forge holds such a ref packed (GitHub's refs are), and so does this.
                with open(path / "packed-refs", "a", encoding="utf-8") as packed:
                    packed.write(f"{sha} {ref}\n")
            elif sha is None:
                (path / ref).unlink(missing_ok=True)
            else:
                go.write_ref(path, ref, sha)

    def set_head(self, owner: str, name: str, created: int, branch: str) -> None:
        """Make HEAD the symbolic ref ``refs/heads/{branch}``, whether or not that branch exists."""
        path = self.ensure(owner, name, created)
        with self._lock_for(path):
            tmp = path / f".HEAD.tmp-{os.getpid()}"
            tmp.write_text(f"ref: refs/heads/{branch}\n")
            os.replace(tmp, path / "HEAD")

    def refs(self, owner: str, name: str, created: int) -> dict[str, str]:
        """Every ref of the repo and the commit it points at (loose refs, and the over-long ones ``set_ref`` packs)."""
        path = self.ensure(owner, name, created)
        found = {}
        for file in sorted((path / "refs").rglob("*")):
            if file.is_file() and not file.name.startswith("."):
                found[file.relative_to(path).as_posix()] = file.read_text().strip()
        packed = path / "packed-refs"
        if packed.exists():  # only refs longer than a file name are packed here (set_ref)
            for line in packed.read_text().splitlines():
                sha, _, ref = line.partition(" ")
                if ref and not line.startswith(("#", "^")):
                    found.setdefault(ref, sha)
        return found


def _title(name: str) -> str:
    """The repo's own name in a disk name (``.recreated/ID/NAME`` → ``NAME``), for its README and commits."""
    return name.rsplit("/", 1)[-1]


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard link (free) when the filesystem allows it, else copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
