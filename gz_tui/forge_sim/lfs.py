"""Git LFS on the embedded forge: repos that carry LFS files, the batch API, and the object downloads.

The batch API is git-lfs's (``POST /{repo}.git/info/lfs/objects/batch``, ``application/vnd.git-lfs+json``,
github.com/git-lfs/git-lfs ``docs/api/batch.md``), authenticated as git is. Where a download action points is
each forge's own (``Scenario.lfs_style``):

- ``github``: a presigned URL on another host (github.com answers ``github-cloud.githubusercontent.com`` or S3 URLs
  that carry their own signature and need no header); the sim's other host is ``localhost`` at its own port.
- ``gitlab``: ``{repo}.git/gitlab-lfs/objects/{oid}`` on the forge, the request's ``Authorization`` echoed into
  the action's ``header`` (gitlab ``LfsRequest``/``lfs_api_controller``: ``download_actions``).
- ``gitea``: ``{repo}.git/info/lfs/objects/{oid}`` on the forge, the request's ``Authorization`` copied into the
  action's ``header`` (gitea ``services/lfs/server.go``: ``buildObjectResponse``).

Objects live in the bare repo itself at ``lfs/objects/aa/bb/OID`` (git-lfs's layout): a repo serves only its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

LfsStyle = Literal["github", "gitlab", "gitea"]
LFS_TYPE = "application/vnd.git-lfs+json"
POINTER_VERSION = "https://git-lfs.github.com/spec/v1"
GITATTRIBUTES = "*.bin filter=lfs diff=lfs merge=lfs -text\n"
ELSEWHERE_HOST = "localhost"
"""The "other host" of the sim: the same server reached by another name, so what reaches it is logged (and a
credential scoped to ``127.0.0.1`` never goes there)."""
_SECRET = b"forge-sim-lfs-media"

LFS_PATH = re.compile(
    r"^/(?P<repo>.+?)\.git/(?:info/lfs/objects/(?P<batch>batch)|info/lfs/objects/(?P<oid>[0-9a-f]{64})"
    r"|gitlab-lfs/objects/(?P<gitlab_oid>[0-9a-f]{64}))$"
)
MEDIA_PATH = re.compile(r"^/alambic/media/(?P<repo>\d+)/(?P<oid>[0-9a-f]{64})$")
"""GitHub's presigned object URL on its media host (``github-cloud.githubusercontent.com/alambic/media/…``)."""


@dataclass(frozen=True, slots=True)
class LfsObject:
    path: str
    """The file's path in the repo's tree."""
    oid: str
    data: bytes

    @property
    def pointer(self) -> bytes:
        return f"version {POINTER_VERSION}\noid sha256:{self.oid}\nsize {len(self.data)}\n".encode()


def lfs_object(path: str, data: bytes) -> LfsObject:
    return LfsObject(path, hashlib.sha256(data).hexdigest(), data)


def generated_objects(name: str, files: int, size_kb: int, seed: int) -> list[LfsObject]:
    """A repo's LFS files: ``lfs-K.bin``, incompressible, unique to the repo (seeded by its name)."""
    size = max(1, size_kb * 1024 // max(1, files))
    rng = random.Random(f"{seed}:{name}")
    return [lfs_object(f"lfs-{k + 1}.bin", rng.randbytes(size)) for k in range(files)]


def object_path(repo: Path, oid: str) -> Path:
    return repo / "lfs" / "objects" / oid[:2] / oid[2:4] / oid


def store_object(repo: Path, item: LfsObject) -> None:
    target = object_path(repo, item.oid)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{item.oid}.tmp")
        tmp.write_bytes(item.data)
        tmp.replace(target)


def media_signature(repo_id: int, oid: str) -> str:
    return hmac.new(_SECRET, f"{repo_id}:{oid}".encode(), hashlib.sha256).hexdigest()


def batch_answer(
    body: bytes,
    *,
    repo: Path,
    repo_id: int,
    repo_url: str,
    media_base: str,
    style: LfsStyle,
    authorization: str | None,
) -> tuple[int, bytes]:
    """The batch API's (status, JSON body) for a download request of ``repo`` (at ``repo_url``, ending ``.git``)."""
    try:
        request = json.loads(body)
        operation = request["operation"]
        wanted = [(str(item["oid"]), int(item["size"])) for item in request["objects"]]
    except (ValueError, KeyError, TypeError):
        return 422, json.dumps({"message": "Unprocessable Entity"}).encode()
    if operation != "download":
        return 403, json.dumps({"message": "Pushing is not allowed on this forge"}).encode()
    objects: list[dict[str, object]] = []
    for oid, size in wanted:
        path = object_path(repo, oid) if re.fullmatch(r"[0-9a-f]{64}", oid) else None
        if path is None or not path.exists():
            objects.append({"oid": oid, "size": size, "error": {"code": 404, "message": "Object does not exist"}})
            continue
        if style == "github":
            href = f"{media_base}/alambic/media/{repo_id}/{oid}?X-Amz-Signature={media_signature(repo_id, oid)}"
            action: dict[str, object] = {"href": href, "expires_in": 3600}
        else:
            where = "gitlab-lfs/objects" if style == "gitlab" else "info/lfs/objects"
            action = {"href": f"{repo_url}/{where}/{oid}", "expires_in": 3600}
            if authorization:
                action["header"] = {"Authorization": authorization}
        objects.append({"oid": oid, "size": path.stat().st_size, "authenticated": True, "actions": {"download": action}})
    return 200, json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode()


@dataclass(slots=True)
class LfsPlan:
    """Which repos carry LFS files (by their directory name) and what they hold."""

    names: frozenset[str]
    files: int
    size_kb: int
    seed: int
    elsewhere: frozenset[str] = frozenset()
    """Repos whose ``.lfsconfig`` names an LFS server on another host (``lfs.url``)."""
    elsewhere_base: str = ""
    """``http://localhost:PORT``, known once the forge has its port."""

    def objects(self, name: str) -> list[LfsObject]:
        if name not in self.names and name not in self.elsewhere:
            return []
        return generated_objects(name, self.files, self.size_kb, self.seed)

    def lfsconfig(self, name: str) -> bytes | None:
        if name not in self.elsewhere:
            return None
        return f"[lfs]\n\turl = {self.elsewhere_base}/elsewhere/{name}.git/info/lfs\n".encode()
