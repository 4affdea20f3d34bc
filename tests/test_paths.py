"""Untrusted names and URLs from a forge: what is refused, what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gz_tui.forges.records import RemoteRepo
from gz_tui.pipeline.paths import UnsafeRepo, clone_url_for, destination

API = "http://127.0.0.1:8080"


def repo(name: str = "ok", url: str = "http://127.0.0.1:8080/acme/ok.git", ssh: str | None = None) -> RemoteRepo:
    return RemoteRepo(key="1", full_name=f"acme/{name}", rel_path=name, clone_url=url, ssh_url=ssh, owner="acme")


@pytest.mark.parametrize(
    "name", ["../x", "..", ".", ".git", "a\\b", "-rf", "bad\nname", "\x1b[31mred", "a\x00b", "/abs", "a//b", ".gz-tui", ""]
)
def test_unsafe_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafeRepo):
        destination(tmp_path, name)


@pytest.mark.parametrize("name", [".github", "kafka", "a.b-c_d", "sub/group/proj"])
def test_legitimate_names_stay_inside_dest(tmp_path: Path, name: str) -> None:
    target = destination(tmp_path, name)
    assert tmp_path.resolve() in target.parents


def test_symlinked_parent_cannot_escape(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "link").symlink_to(outside)
    with pytest.raises(UnsafeRepo):
        destination(dest, "link/repo")


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% /tmp/pwned",
        "file:///etc/passwd",
        "https://evil.example.invalid/x.git",
        "--upload-pack=touch /tmp/pwned",
        "-uwhatever",
        "http://user:pw@127.0.0.1:8080/acme/x.git",
        "http://127.0.0.1:9999/acme/x.git",
        "git://127.0.0.1:8080/acme/x.git",
        "",
    ],
)
def test_hostile_clone_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeRepo):
        clone_url_for(repo(url=url), api_base=API, protocol="https", allow_http=True)


def test_clone_url_on_the_forge_host_is_accepted() -> None:
    assert clone_url_for(repo(), api_base=API, protocol="https", allow_http=True).endswith("/acme/ok.git")


def test_github_api_host_maps_to_git_host_and_plain_http_is_refused() -> None:
    r = repo(url="https://github.com/acme/ok.git")
    assert clone_url_for(r, api_base="https://api.github.com", protocol="https", allow_http=False)
    with pytest.raises(UnsafeRepo):
        clone_url_for(repo(url="http://github.com/acme/ok.git"), api_base="https://api.github.com", protocol="https", allow_http=False)


def test_ssh_urls_must_point_at_the_forge_host() -> None:
    ok = repo(ssh="git@github.com:acme/ok.git")
    assert clone_url_for(ok, api_base="https://api.github.com", protocol="ssh", allow_http=False)
    for bad in ("git@evil.example:acme/ok.git", "-oProxyCommand=touch x", "ssh://-oProxyCommand=x/y"):
        with pytest.raises(UnsafeRepo):
            clone_url_for(repo(ssh=bad), api_base="https://api.github.com", protocol="ssh", allow_http=False)
