"""The embedded forge can misbehave the ways issue 26 needs, on demand and off by default: listings that never end
or blow up their parser, git transfers that stall or trickle, rate-limit headers that lie, a GitHub App token
endpoint that fails or hangs, and a HEAD that names no branch.

Plain httpx, zlib and git against a running ``ForgeSim``.
"""

from __future__ import annotations

import email.utils
import json
import os
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gz_tui.clock import FakeClock
from gz_tui.forge_sim import ForgeSim, GitHubApp, Scenario
from tests.test_forge_sim import git, link_url
from tests.test_forge_sim_identity import FLAVOURS, first_url, leaf

GIB = 1 << 30


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


def pages_of(client: httpx.Client, sim: ForgeSim, flavour: str) -> tuple[httpx.Response, str, httpx.Response]:
    """Page 1, the URL its ``next`` names, and page 2."""
    first = client.get(first_url(sim, flavour))
    second_url = link_url(first.headers["link"], "next")
    assert second_url is not None
    return first, second_url, client.get(second_url)


# -- listings that never end --


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_self_next_page_links_to_itself(tmp_path: Path, client: httpx.Client, flavour: str) -> None:
    with ForgeSim(tmp_path, repos=25, scenario=Scenario(hostile_listing="self_next")) as sim:
        _, second_url, second = pages_of(client, sim, flavour)
        assert second.status_code == 200 and len(second.json()) == 10
        assert link_url(second.headers["link"], "next") == second_url
        if flavour == "gitlab":
            assert second.headers["x-next-page"] == "2"


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_two_pages_can_point_at_each_other(tmp_path: Path, client: httpx.Client, flavour: str) -> None:
    with ForgeSim(tmp_path, repos=25, scenario=Scenario(hostile_listing="next_cycle")) as sim:
        first, _, second = pages_of(client, sim, flavour)
        back = link_url(second.headers["link"], "next")
        assert back is not None and "page=1" in back
        assert [i["id"] for i in client.get(back).json()] == [i["id"] for i in first.json()]
        assert link_url(client.get(back).headers["link"], "next") is not None  # …and round again


# -- pages that attack the parser --


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_deeply_nested_page_is_valid_json_no_recursive_parser_survives(tmp_path: Path, client: httpx.Client, flavour: str) -> None:
    with ForgeSim(tmp_path, repos=25, scenario=Scenario(hostile_listing="deep_json")) as sim:
        first, _, second = pages_of(client, sim, flavour)
        assert len(first.json()) == 10
        assert second.status_code == 200 and second.headers["content-type"].startswith("application/json")
        assert second.content == b"[" * 100_000 + b"]" * 100_000
        with pytest.raises(RecursionError):
            json.loads(second.content)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_gzip_bomb_page_is_a_few_megabytes_that_inflate_to_gigabytes(tmp_path: Path, client: httpx.Client, flavour: str) -> None:
    with ForgeSim(tmp_path, repos=25, scenario=Scenario(hostile_listing="gzip_bomb")) as sim:
        second_url = link_url(client.get(first_url(sim, flavour)).headers["link"], "next")
        assert second_url is not None
        with client.stream("GET", second_url) as response:
            assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"
            raw = b"".join(response.iter_raw())
        assert len(raw) == int(response.headers["content-length"]) < 4_000_000
        inflate = zlib.decompressobj(31)
        inflated, pending = 0, raw[:65_536]
        while pending:  # bounded: never more than 1 MiB held at once
            inflated += len(inflate.decompress(pending, 1 << 20))
            pending = inflate.unconsumed_tail
        assert inflated > 50 * (1 << 20)  # 64 KiB on the wire already made more than 50 MiB
        _, size = struct.unpack("<II", raw[-8:])
        assert size == 3 * GIB


def test_the_gzip_bomb_is_a_valid_gzip_stream() -> None:
    """The same generator with few blocks inflates completely, CRC and size checked by ``zlib``."""
    from gz_tui.forge_sim.hostile import gzip_bomb, gzip_bomb_length

    data = b"".join(gzip_bomb(blocks=3))
    assert len(data) == gzip_bomb_length(blocks=3)
    assert zlib.decompress(data, 31) == bytes(3 << 20)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_duplicate_entries_repeat_a_repo_on_one_page_and_across_two(tmp_path: Path, client: httpx.Client, flavour: str) -> None:
    with ForgeSim(tmp_path, repos=25, scenario=Scenario(hostile_listing="duplicates")) as sim:
        first, _, second = pages_of(client, sim, flavour)
        one, two = [i["id"] for i in first.json()], [i["id"] for i in second.json()]
        assert len(one) == 10 and one[0] == one[1] and two[0] == one[-1]
        everything = [leaf(i) for i in first.json() + second.json()]
        url: str | None = link_url(second.headers["link"], "next")
        while url:
            page = client.get(url)
            everything += [leaf(i) for i in page.json()]
            url = link_url(page.headers["link"], "next")
        assert set(everything) == set(sim.repo_names()) and len(everything) == 27
        if flavour != "github":
            assert int(first.headers.get("x-total") or first.headers["x-total-count"]) == 25


# -- git transfers that stall --


def slow_clone(url: str, target: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """A clone that gives up when under 1000 bytes a second arrive for 2 seconds (git's own low-speed bound)."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    command = ["git", "-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=2", "clone", "--", url, str(target)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def test_a_stalled_transfer_sends_half_the_pack_then_holds_the_connection_open(tmp_path: Path) -> None:
    with ForgeSim(tmp_path / "forge", repos=5, scenario=Scenario(git_stall=("repo-00001",))) as sim:
        stalled = slow_clone(sim.git_url("repo-00001"), tmp_path / "a")
        assert stalled.returncode != 0
        assert "Operation too slow" in stalled.stderr and "bytes of body are still expected" in stalled.stderr
        git("ls-remote", "--exit-code", "--", sim.git_url("repo-00001"), "HEAD")  # refs still answer: only the pack stalls
        assert slow_clone(sim.git_url("repo-00002"), tmp_path / "b").returncode == 0


def test_without_a_low_speed_bound_a_stalled_clone_never_ends(tmp_path: Path) -> None:
    with ForgeSim(tmp_path / "forge", repos=3, scenario=Scenario(git_stall=("repo-00001",))) as sim:
        with pytest.raises(subprocess.TimeoutExpired):
            subprocess.run(["git", "clone", "--", sim.git_url("repo-00001"), str(tmp_path / "a")], capture_output=True, timeout=3)


def test_a_trickled_transfer_arrives_whole_and_a_slow_one_trips_the_low_speed_bound(tmp_path: Path) -> None:
    fast = Scenario(git_trickle=("repo-00001",), git_trickle_rate=4_000)
    with ForgeSim(tmp_path / "fast", repos=3, scenario=fast) as sim:
        assert slow_clone(sim.git_url("repo-00001"), tmp_path / "a").returncode == 0
        assert git("-C", str(tmp_path / "a"), "rev-parse", "HEAD").stdout.strip() == sim.head_of("repo-00001")
    with ForgeSim(tmp_path / "slow", repos=3, scenario=Scenario(git_trickle=("repo-00001",))) as sim:
        trickled = slow_clone(sim.git_url("repo-00001"), tmp_path / "b")
        assert trickled.returncode != 0 and "Operation too slow" in trickled.stderr


def test_stopping_the_forge_ends_a_held_transfer(tmp_path: Path) -> None:
    sim = ForgeSim(tmp_path / "forge", repos=3, scenario=Scenario(git_stall=("repo-00001",))).start()
    results: list[int] = []
    clone = threading.Thread(
        target=lambda: results.append(
            subprocess.run(
                ["git", "clone", "--", sim.git_url("repo-00001"), str(tmp_path / "a")], capture_output=True, timeout=60
            ).returncode
        )
    )
    clone.start()
    deadline = time.monotonic() + 30
    while sum(r.path.endswith("/git-upload-pack") for r in sim.requests()) < 2 and time.monotonic() < deadline:  # the fetch is held
        time.sleep(0.05)
    sim.stop()
    clone.join(timeout=30)
    assert not clone.is_alive() and results and results[0] != 0


# -- rate-limit headers that lie --


LIMITED = {"github": 403, "gitlab": 429, "gitea": 429}


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("lie", "expected"),
    [("retry_after_negative", "-5"), ("retry_after_zero", "0"), ("retry_after_huge", "99999999999"), ("retry_after_past_date", None)],
)
def test_retry_after_lies_on_every_throttled_answer(
    tmp_path: Path, client: httpx.Client, flavour: str, lie: str, expected: str | None
) -> None:
    clock = FakeClock(1_800_000_000.0)
    with ForgeSim(tmp_path, repos=5, clock=clock, scenario=Scenario(primary_limit=1, rate_limit_lie=lie)) as sim:  # type: ignore[arg-type]
        spent = client.get(first_url(sim, flavour))
        assert spent.status_code == 200 and "retry-after" not in spent.headers
        refused = client.get(first_url(sim, flavour))
        assert refused.status_code == LIMITED[flavour]
        value = refused.headers.get_list("retry-after")
        assert len(value) == 1
        if expected is None:
            assert email.utils.parsedate_to_datetime(value[0]).timestamp() == clock.now() - 3600
        else:
            assert value == [expected]


def test_retry_after_lies_on_a_secondary_limit_too(tmp_path: Path, client: httpx.Client) -> None:
    scenario = Scenario(secondary_every=1, secondary_retry_after=None, rate_limit_lie="retry_after_zero")
    with ForgeSim(tmp_path, repos=5, scenario=scenario) as sim:
        refused = client.get(first_url(sim, "github"))
        assert refused.status_code == 403 and "secondary rate limit" in refused.json()["message"]
        assert refused.headers["retry-after"] == "0"


@pytest.mark.parametrize("flavour", ["github", "gitlab"])
def test_a_reset_already_past_keeps_being_refused(tmp_path: Path, client: httpx.Client, flavour: str) -> None:
    """The client's clock is ahead of the forge's: the advertised reset has passed, the forge still says no."""
    clock = FakeClock(1_800_000_000.0)
    scenario = Scenario(primary_limit=1, primary_window=600, rate_limit_lie="reset_in_past")
    reset = "x-ratelimit-reset" if flavour == "github" else "ratelimit-reset"
    remaining = "x-ratelimit-remaining" if flavour == "github" else "ratelimit-remaining"
    with ForgeSim(tmp_path, repos=5, clock=clock, scenario=scenario) as sim:
        spent = client.get(first_url(sim, flavour))
        assert spent.status_code == 200 and spent.headers[remaining] == "0"
        assert int(spent.headers[reset]) == clock.now() - 3600
        for _ in range(3):
            refused = client.get(first_url(sim, flavour))
            assert refused.status_code == LIMITED[flavour] and int(refused.headers[reset]) < clock.now()
        clock.advance(600)  # the real reset
        assert client.get(first_url(sim, flavour)).status_code == 200


@pytest.mark.parametrize("flavour", ["github", "gitlab"])
def test_a_nan_reset(tmp_path: Path, client: httpx.Client, flavour: str) -> None:
    with ForgeSim(tmp_path, repos=5, scenario=Scenario(primary_limit=1, rate_limit_lie="reset_nan")) as sim:
        client.get(first_url(sim, flavour))
        refused = client.get(first_url(sim, flavour))
        assert refused.status_code == LIMITED[flavour]
        assert refused.headers["x-ratelimit-reset" if flavour == "github" else "ratelimit-reset"] == "NaN"


# -- the GitHub App installation-token endpoint --


@pytest.fixture(scope="module")
def app_keys() -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def app_jwt(private: bytes, app_id: int) -> str:
    import jwt

    now = int(time.time())
    return str(jwt.encode({"iat": now - 60, "exp": now + 540, "iss": str(app_id)}, private, algorithm="RS256"))


def test_the_installation_token_endpoint_can_fail_and_hang_and_counts_every_request(
    tmp_path: Path, client: httpx.Client, app_keys: tuple[bytes, bytes]
) -> None:
    private, public = app_keys
    app = GitHubApp(app_id=7, public_key=public)
    with ForgeSim(tmp_path, repos=3, token="not-known", github_app=app) as sim:
        url = f"{sim.base_url}/app/installations/{app.installation_id}/access_tokens"
        signed = {"Authorization": f"Bearer {app_jwt(private, 7)}"}
        minted = client.post(url, headers=signed)
        assert minted.status_code == 201
        as_app = {"Authorization": f"Bearer {minted.json()['token']}"}
        sim.fail_app_tokens(500)
        failed = client.post(url, headers=signed)
        assert failed.status_code == 500 and failed.json()["message"] == "Server Error"
        assert client.get(f"{sim.base_url}/orgs/acme/repos", headers=as_app).status_code == 200  # minted ones still work
        sim.fail_app_tokens("hang")
        with pytest.raises(httpx.ReadTimeout):
            client.post(url, headers=signed, timeout=1.5)
        sim.fail_app_tokens(None)
        assert client.post(url, headers=signed).status_code == 201
        assert sim.app_token_requests() == 4
        assert sim.app_authority is not None and sim.app_authority.issued == 2
        mints = [r for r in sim.requests() if r.method == "POST"]
        assert [r.status for r in mints] == [201, 500, 0, 201] and {r.credential for r in mints} == {"jwt"}


def test_a_hung_mint_ends_when_the_forge_stops(tmp_path: Path, app_keys: tuple[bytes, bytes]) -> None:
    private, public = app_keys
    app = GitHubApp(app_id=7, public_key=public)
    sim = ForgeSim(tmp_path, repos=3, token="not-known", github_app=app).start()
    sim.fail_app_tokens("hang")
    outcome: list[str] = []

    def post() -> None:
        try:
            httpx.post(
                f"{sim.base_url}/app/installations/{app.installation_id}/access_tokens",
                headers={"Authorization": f"Bearer {app_jwt(private, 7)}"},
                timeout=60,
            )
            outcome.append("answered")
        except httpx.HTTPError as error:
            outcome.append(type(error).__name__)

    caller = threading.Thread(target=post)
    caller.start()
    deadline = time.monotonic() + 30
    while sim.app_token_requests() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    sim.stop()
    caller.join(timeout=30)
    assert not caller.is_alive() and outcome and outcome[0] != "answered"


def test_an_installation_token_may_not_ask_who_am_i(tmp_path: Path, client: httpx.Client, app_keys: tuple[bytes, bytes]) -> None:
    private, public = app_keys
    app = GitHubApp(app_id=7, public_key=public)
    with ForgeSim(tmp_path, repos=3, token="not-known", github_app=app) as sim:
        minted = client.post(
            f"{sim.base_url}/app/installations/{app.installation_id}/access_tokens",
            headers={"Authorization": f"Bearer {app_jwt(private, 7)}"},
        )
        me = client.get(f"{sim.base_url}/user", headers={"Authorization": f"Bearer {minted.json()['token']}"})
        assert me.status_code == 403 and me.json()["message"] == "Resource not accessible by integration"


# -- a HEAD that names no branch --


def test_a_head_pointing_at_a_missing_branch_clones_with_no_checkout(tmp_path: Path, client: httpx.Client) -> None:
    with ForgeSim(tmp_path / "forge", repos=5) as sim:
        sim.point_head_at("repo-00002", "gone")
        cloned = git("clone", "--", sim.git_url("repo-00002"), str(tmp_path / "c"))
        assert "remote HEAD refers to nonexistent ref" in cloned.stderr
        assert [p.name for p in (tmp_path / "c").iterdir()] == [".git"]
        assert set(sim.refs_of("repo-00002")) == {"refs/heads/main", "refs/heads/develop", "refs/tags/v1.0"}
        number = sim.repo_id("repo-00002")
        branches = {
            client.get(f"{sim.base_url}/repositories/{number}").json()["default_branch"],
            client.get(f"{sim.base_url}/api/v4/projects/{number}").json()["default_branch"],
            client.get(f"{sim.base_url}/api/v1/repositories/{number}").json()["default_branch"],
        }
        assert branches == {"gone"}


def test_the_command_line_sets_every_new_knob() -> None:
    from gz_tui.forge_sim.__main__ import build_parser, scenario_from

    argv = "--bad-token-as-anonymous --git-redirect-status 307 --gitlab-activity-hold 3600 --empty-wiki no_refs --gitea-version 1.15"
    argv += " --hostile-listing gzip_bomb --hostile-listing-page 3 --git-stall repo-00001 --git-stall repo-00002 --git-trickle repo-00003"
    argv += " --git-trickle-rate 8 --rate-limit-lie reset_nan"
    argv += " --bitbucket-cursor-pages --bitbucket-server-page-max 50 --bitbucket-server-hidden-every 7 --empty-repo repo-00004"
    argv += " --forgejo-version 9.0.0 --gitea-max-response-items 250 --gitlab-offset-limit 200"
    scenario = scenario_from(build_parser().parse_args(argv.split()))
    assert scenario == Scenario(
        bad_token_as_anonymous=True,
        git_redirect_status=307,
        gitlab_activity_hold=3600,
        empty_wiki="no_refs",
        gitea_version=(1, 15),
        hostile_listing="gzip_bomb",
        hostile_listing_page=3,
        git_stall=("repo-00001", "repo-00002"),
        git_trickle=("repo-00003",),
        git_trickle_rate=8,
        rate_limit_lie="reset_nan",
        bitbucket_cursor_pages=True,
        bitbucket_server_page_max=50,
        bitbucket_server_hidden_every=7,
        empty_repos=("repo-00004",),
        forgejo_version="9.0.0",
        gitea_max_response_items=250,
        gitlab_offset_limit=200,
    )
    assert scenario_from(build_parser().parse_args([])) == Scenario()
