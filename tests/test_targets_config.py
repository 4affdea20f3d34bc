"""Many owners, one run: [targets.NAME] tables, several owners on the command line, `gz-tui sync`, and the
commands that show targets (config show, config init, status)."""

from __future__ import annotations

import io
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gz_tui.config import (
    ConfigError,
    NoTargets,
    Settings,
    load_config,
    resolve_owners,
    resolve_targets,
    resolve_with_sources,
)
from gz_tui.config.command import config_command, default_config_text
from gz_tui.config.settings import check
from tests.conftest import run_cli

posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX shell scripts")


@pytest.fixture
def cfg() -> Path:
    """The config file every gz-tui in this test reads (the autouse fixture points GZ_TUI_CONFIG at it)."""
    return Path(os.environ["GZ_TUI_CONFIG"])


@pytest.fixture
def env(tmp_path: Path, cfg: Path) -> dict[str, str]:
    """A hermetic environment for in-process resolution: our config file, and a PATH with no `gh` on it."""
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    return {"GZ_TUI_CONFIG": str(cfg), "GZ_TUI_LOG_DIR": str(tmp_path / "logs"), "PATH": str(empty_bin)}


def one_line_error(result: Any, *words: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return str(lines[0])


def show(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = config_command(argv, stdout=out, stderr=err, environ=env)
    return code, out.getvalue(), err.getvalue()


TARGETS = """
[defaults]
workers = 4
dest_root = "/srv/mirror"
post_sync = ["/usr/bin/true", "--all"]

[profiles.work]
provider = "gitlab"
base_url = "https://gitlab.example.com"
token_env = "WORK_TOKEN"
workers = 3
update = "pull"

[profiles.github]
skip_forks = true

[targets.apache]
exclude = "^incubator-"

[targets.backend]
profile = "work"
owner = "platform/backend"
update = "reset"
dest = "/data/backend"
post_sync = []

[targets.codeberg]
provider = "gitea"
base_url = "https://codeberg.org"
token_env = "CODEBERG_TOKEN"
workers = 2
"""


# --------------------------------------------------------------------------- resolution of [targets.NAME]


def test_every_target_in_file_order_with_its_own_settings(env: dict[str, str], cfg: Path) -> None:
    cfg.write_text(TARGETS)
    apache, backend, codeberg = resolve_targets({}, (), env)

    assert (apache.settings.target, apache.settings.owner, apache.settings.provider) == ("apache", "apache", "github")
    assert apache.settings.dest == Path("/srv/mirror/apache")
    assert apache.settings.exclude == "^incubator-"
    assert apache.profile == "github" and apache.settings.skip_forks  # the profile its provider selects
    assert apache.sources["exclude"] == f"config {cfg} [targets.apache]"
    assert apache.sources["owner"] == "the name of [targets.apache]"
    assert apache.table == "[targets.apache]"

    s = backend.settings
    assert (s.target, s.owner, s.provider, s.api_base) == ("backend", "platform/backend", "gitlab", "https://gitlab.example.com")
    assert (s.update, s.workers, s.dest, s.post_sync) == ("reset", 3, Path("/data/backend"), ())
    assert backend.sources["update"] == f"config {cfg} [targets.backend]"
    assert backend.sources["workers"] == f"config {cfg} [profiles.work]"
    assert backend.sources["dest"] == f"config {cfg} [targets.backend]"

    s = codeberg.settings
    assert (s.provider, s.workers, s.dest, s.post_sync) == ("gitea", 2, Path("/srv/mirror/codeberg"), ("/usr/bin/true", "--all"))
    assert codeberg.sources["post_sync"] == f"config {cfg} [defaults]"
    assert codeberg.sources["dest"] == f"config {cfg} [defaults] dest_root"


def test_flags_beat_the_target_table_which_beats_its_profile_and_the_defaults(env: dict[str, str], cfg: Path) -> None:
    cfg.write_text(TARGETS)
    [backend] = resolve_targets({"workers": 9}, ["backend"], env)
    assert backend.settings.workers == 9 and backend.sources["workers"] == "flag"
    [backend] = resolve_targets({"update": "skip"}, ["backend"], env)
    assert backend.settings.update == "skip"
    [apache] = resolve_targets({}, ["apache"], env)
    assert apache.settings.workers == 4 and apache.sources["workers"] == f"config {cfg} [defaults]"
    assert apache.settings.buffer == 1000 and apache.sources["buffer"] == "default"


def test_dest_flag_is_the_destination_of_one_target_and_the_root_of_several(env: dict[str, str], cfg: Path, tmp_path: Path) -> None:
    cfg.write_text(TARGETS)
    [one] = resolve_targets({"dest": tmp_path / "here"}, ["backend"], env)
    assert one.settings.dest == tmp_path / "here"
    both = resolve_targets({"dest": tmp_path / "all"}, ["apache", "backend"], env)
    assert [r.settings.dest for r in both] == [tmp_path / "all" / "apache", tmp_path / "all" / "backend"]


def test_each_target_finds_its_own_token(env: dict[str, str], cfg: Path) -> None:
    cfg.write_text(TARGETS)
    env |= {"WORK_TOKEN": "work-secret", "CODEBERG_TOKEN": "cb-secret", "GH_TOKEN": "gh-secret", "GITEA_TOKEN": "gitea-secret"}
    apache, backend, codeberg = resolve_targets({}, (), env)
    assert (apache.settings.token, apache.settings.token_source) == ("gh-secret", "GH_TOKEN")
    assert (backend.settings.token, backend.sources["token"]) == ("work-secret", "env WORK_TOKEN ([profiles.work] token_env)")
    assert (codeberg.settings.token, codeberg.sources["token"]) == ("cb-secret", "env CODEBERG_TOKEN ([targets.codeberg] token_env)")


def test_a_target_token_goes_only_to_its_own_forge(env: dict[str, str], cfg: Path) -> None:
    cfg.write_text('[targets.cb]\nprovider = "gitea"\nbase_url = "https://codeberg.org"\ntoken = "cb-in-file"\n')
    [own] = resolve_targets({}, (), env)
    assert own.settings.token == "cb-in-file" and own.sources["token"] == f"config {cfg} [targets.cb]"
    [moved] = resolve_targets({"base_url": "https://git.elsewhere.example"}, (), env)
    assert moved.settings.token is None
    assert any("not using the token of [targets.cb]" in w for w in moved.warnings)


def test_a_target_token_env_beats_its_profile_token_env(env: dict[str, str], cfg: Path) -> None:
    cfg.write_text(TARGETS + '\n[targets.ops]\nprofile = "work"\ntoken_env = "OPS_TOKEN"\n')
    env |= {"WORK_TOKEN": "work-secret", "OPS_TOKEN": "ops-secret"}
    [ops] = resolve_targets({}, ["ops"], env)
    assert ops.settings.token == "ops-secret" and ops.settings.token_source == "OPS_TOKEN"


@posix_only
def test_gh_is_asked_once_per_forge_for_all_github_targets(env: dict[str, str], cfg: Path, tmp_path: Path) -> None:
    calls = tmp_path / "gh-calls"
    bindir = tmp_path / "gh-bin"
    bindir.mkdir()
    (bindir / "gh").write_text(f'#!/bin/sh\necho call >> "{calls}"\necho gho_fromgh\n')
    (bindir / "gh").chmod(0o755)
    env["PATH"] = str(bindir)
    cfg.write_text("[targets.a]\n[targets.b]\n[targets.c]\n")
    resolved = resolve_targets({}, (), env)
    assert [r.settings.token for r in resolved] == ["gho_fromgh"] * 3
    assert calls.read_text().count("call") == 1


def test_names_choose_targets_in_the_order_given(env: dict[str, str], cfg: Path) -> None:
    cfg.write_text(TARGETS)
    assert [r.settings.target for r in resolve_targets({}, ["codeberg", "apache", "codeberg"], env)] == ["codeberg", "apache"]


def test_an_unknown_name_lists_the_known_ones(env: dict[str, str], cfg: Path) -> None:
    cfg.write_text(TARGETS)
    with pytest.raises(ConfigError) as err:
        resolve_targets({}, ["apache", "apahce"], env)
    assert str(err.value) == f"no target 'apahce' in {cfg} (targets there: apache, backend, codeberg)"


@pytest.mark.parametrize("text", [None, "[defaults]\nworkers = 2\n"])
def test_no_targets_configured_points_at_config_init(env: dict[str, str], cfg: Path, text: str | None) -> None:
    if text is not None:
        cfg.write_text(text)
    with pytest.raises(NoTargets, match="gz-tui config init"):
        resolve_targets({}, (), env)


def test_two_targets_with_one_destination_are_refused_naming_both(env: dict[str, str], cfg: Path) -> None:
    cfg.write_text('[targets.a]\ndest = "/srv/x"\n[targets.b]\nowner = "other"\ndest = "/srv/x/"\n')
    with pytest.raises(ConfigError) as err:
        resolve_targets({}, (), env)
    assert str(err.value) == f"targets a and b would both sync into {Path('/srv/x').resolve()} (give one its own dest)"
    resolve_targets({}, ["b"], env)  # alone, either is fine


def test_two_targets_with_one_owner_name_under_one_root_are_refused(env: dict[str, str], cfg: Path) -> None:
    cfg.write_text('[defaults]\ndest_root = "/srv"\n[targets.gh]\nowner = "acme"\n[targets.gl]\nowner = "acme"\nprovider = "gitlab"\n')
    with pytest.raises(ConfigError, match="^targets gh and gl would both sync into"):
        resolve_targets({}, (), env)


def test_a_destination_inside_another_is_refused(env: dict[str, str], cfg: Path) -> None:
    cfg.write_text('[targets.a]\ndest = "/srv/x"\n[targets.b]\ndest = "/srv/x/b"\n')
    with pytest.raises(ConfigError, match=r"^targets a and b: destination .*b is inside .*x"):
        resolve_targets({}, (), env)


def test_several_targets_cannot_share_one_state_flag(env: dict[str, str], cfg: Path, tmp_path: Path) -> None:
    cfg.write_text(TARGETS)
    with pytest.raises(ConfigError, match="^targets apache and backend would share the state file"):
        resolve_targets({"state_path": tmp_path / "s.sqlite3"}, ["apache", "backend"], env)


# --------------------------------------------------------------------------- errors name the table


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("workers = 1000", "[targets.apache] workers = 1000: must be at most 64"),
        ('dest = "mirror/apache"', '[targets.apache] dest = "mirror/apache": expected an absolute path or one starting with "~"'),
        ('include = "("', '[targets.apache] include = "(": is not a valid regular expression'),
        ("owner = 3", "[targets.apache] owner = 3: expected a non-empty string"),
        ('owner = "  "', '[targets.apache] owner = "  ": expected a non-empty string'),
        ('post_sync = "make index"', '[targets.apache] post_sync = "make index": expected an array of non-empty strings'),
        ('post_sync = ["make", ""]', '[targets.apache] post_sync = ["make", ""]: expected an array of non-empty strings'),
        ('profile = "nope"', '[targets.apache] profile = "nope" names no [profiles.*] table'),
        ('profile = "work"\nprovider = "gitea"', '[targets.apache] provider = "gitea" conflicts with [profiles.work] provider = "gitlab"'),
        ("wokers = 3", 'unknown key "wokers" in [targets.apache]; did you mean "workers"?'),
        ('stats_file = "/tmp/s.jsonl"', '"stats_file" belongs in [defaults], not in [targets.apache]'),
        ("insecure_http = true", 'unknown key "insecure_http" in [targets.apache]'),
    ],
)
def test_a_bad_target_table_is_one_line_naming_the_table(env: dict[str, str], cfg: Path, table: str, message: str) -> None:
    cfg.write_text(f'[profiles.work]\nprovider = "gitlab"\n\n[targets.apache]\n{table}\n')
    with pytest.raises(ConfigError) as err:
        resolve_targets({}, (), env)
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(f"{cfg}: {message}"), str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[targets."two words"]\n', '[targets."two words"]: a target\'s name is one word'),
        ('[targets."-x"]\n', '[targets."-x"]: a target\'s name is one word'),
        ("targets = 3\n", "targets must be tables written [targets.NAME]"),
        (
            '[profiles.work]\nprovider = "gitlab"\npost_sync = ["x"]\n',
            '"post_sync" belongs in [defaults] or a [targets.NAME] table, not in [profiles.work]',
        ),
        ('[defaults]\ndest = "/x"\n', '"dest" belongs in a [targets.NAME] table, not in [defaults]'),
        ('[defaults]\nowner = "x"\n', '"owner" belongs in a [targets.NAME] table, not in [defaults]'),
        ("[defaults]\npost_sync = [1]\n", "[defaults] post_sync = [1]: expected an array of non-empty strings"),
        ('[defaults]\nstats_file = "stats.jsonl"\n', '[defaults] stats_file = "stats.jsonl": expected an absolute path'),
    ],
)
def test_bad_target_names_and_new_keys_are_one_line(env: dict[str, str], cfg: Path, text: str, message: str) -> None:
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert str(err.value).startswith(f"{cfg}: {message}"), str(err.value)


def test_a_cross_setting_problem_names_the_target_table(env: dict[str, str], cfg: Path) -> None:
    cfg.write_text('[targets.x]\nowner = "a/b"\n[targets.y]\nprovider = "gitea"\nbase_url = "http://git.example"\n')
    with pytest.raises(ConfigError) as refused:  # an owner the forge cannot have: refused while resolving
        resolve_targets({}, (), env)
    assert str(refused.value) == f"{cfg}: [targets.x]: github owners have no '/': 'a/b'"
    cfg.write_text('[targets.y]\nprovider = "gitea"\nbase_url = "http://git.example"\n')
    (y,) = resolve_targets({}, (), env)
    problem = y.problem()
    assert problem is not None and problem.startswith(f'{cfg}: [targets.y] base_url = "http://git.example": must use https')


# --------------------------------------------------------------------------- the new settings


def test_target_defaults_to_the_owner_and_one_owner_resolves_as_before(env: dict[str, str]) -> None:
    assert Settings(owner="acme").target == "acme"
    assert Settings(owner="acme", target="work").target == "work"
    s = resolve_with_sources({"owner": "grp/team"}, env).settings
    assert (s.target, s.dest, s.post_sync, s.stats_file) == ("grp/team", Path("team"), (), None)


def test_stats_file_from_the_flag_is_made_absolute_and_from_the_file_must_be(env: dict[str, str], cfg: Path) -> None:
    assert check("stats_file", Path("stats.jsonl")) == Path.cwd() / "stats.jsonl"
    cfg.write_text('[defaults]\nstats_file = "~/stats.jsonl"\n')
    s = resolve_with_sources({"owner": "o"}, env)
    assert s.settings.stats_file == Path("~/stats.jsonl").expanduser()
    assert s.sources["stats_file"] == f"config {cfg} [defaults]"


@pytest.mark.parametrize("value", [["make"], ("a", "b c")])
def test_post_sync_is_an_argument_list(value: list[str]) -> None:
    assert check("post_sync", value) == tuple(value)


# --------------------------------------------------------------------------- owners on the command line


def test_several_owners_each_land_in_the_root(env: dict[str, str], cfg: Path, tmp_path: Path) -> None:
    cfg.write_text('[defaults]\ndest_root = "/srv/mirror"\n')
    resolved = resolve_owners({}, ["apache", "kubernetes"], env)
    assert [(r.settings.target, r.settings.owner, r.settings.dest) for r in resolved] == [
        ("apache", "apache", Path("/srv/mirror/apache")),
        ("kubernetes", "kubernetes", Path("/srv/mirror/kubernetes")),
    ]
    with_dest = resolve_owners({"dest": tmp_path / "d"}, ["apache", "kubernetes"], env)
    assert [r.settings.dest for r in with_dest] == [tmp_path / "d" / "apache", tmp_path / "d" / "kubernetes"]
    [one] = resolve_owners({"dest": tmp_path / "d"}, ["apache"], env)
    assert one.settings.dest == tmp_path / "d"
    assert one.settings == resolve_with_sources({"owner": "apache", "dest": tmp_path / "d"}, env).settings


def test_an_owner_named_twice_is_one_target(env: dict[str, str]) -> None:
    assert [r.settings.owner for r in resolve_owners({}, ["a", "b", "a"], env)] == ["a", "b"]


# --------------------------------------------------------------------------- the command line


def test_sync_without_targets_is_one_line_with_the_hint(cfg: Path) -> None:
    one_line_error(run_cli("sync"), "nothing to sync", "gz-tui config init")
    cfg.write_text("[defaults]\nworkers = 2\n")
    one_line_error(run_cli("sync", "--dry-run"), f"{cfg} has no [targets.NAME] tables", "gz-tui config init")


def test_sync_of_an_unknown_name_lists_the_known_ones(cfg: Path) -> None:
    cfg.write_text("[targets.apache]\n[targets.kubernetes]\n")
    line = one_line_error(run_cli("sync", "apache", "kubrenetes", "--dry-run"))
    assert line == f"gz-tui: no target 'kubrenetes' in {cfg} (targets there: apache, kubernetes)"


def test_sync_reports_a_bad_target_table_naming_it(cfg: Path) -> None:
    cfg.write_text("[targets.apache]\nworkers = 1000\n")
    result = run_cli("sync")
    assert result.returncode == 2
    assert result.stderr == f"gz-tui: {cfg}: [targets.apache] workers = 1000: must be at most 64\n"


def test_sync_flags_are_checked_and_owner_flags_are_not_sync_flags(cfg: Path) -> None:
    cfg.write_text("[targets.apache]\n")
    one_line_error(run_cli("sync", "--workers", "100"), "--workers must be at most 64")
    one_line_error(run_cli("sync", "--owner", "x"), "unknown option --owner")
    one_line_error(run_cli("sync", "--demo"), "unknown option --demo")


def test_sync_refuses_two_targets_with_one_destination(cfg: Path, tmp_path: Path) -> None:
    cfg.write_text(f'[targets.a]\ndest = "{tmp_path / "x"}"\n[targets.b]\ndest = "{tmp_path / "x"}"\n')
    one_line_error(run_cli("sync", "--dry-run"), "targets a and b would both sync into")
    assert not (tmp_path / "x").exists()


def test_sync_of_one_target_runs_it_with_its_table(cfg: Path, forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=6)
    dest = tmp_path / "mirror" / "acme"
    cfg.write_text(f'[targets.acme]\nbase_url = "{sim.base_url}"\ndest = "{dest}"\ninclude = "^repo-0000[1-3]$"\n')
    result = run_cli("sync", "acme", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["event"] == "summary" and summary["listed"] == 6
    assert summary["would_clone"] == 3 and summary["skipped"] == 3
    assert Path(summary["state"]).is_relative_to(dest)


def test_a_cross_setting_problem_of_a_target_is_one_line_naming_it(cfg: Path) -> None:
    cfg.write_text('[targets.x]\nowner = "a/b"\n')
    assert one_line_error(run_cli("sync", "--dry-run")) == f"gz-tui: {cfg}: [targets.x]: github owners have no '/': 'a/b'"


def test_several_owners_cannot_share_one_state(tmp_path: Path) -> None:
    result = run_cli("apache", "kubernetes", "--state", str(tmp_path / "s.sqlite3"), "--dry-run")
    one_line_error(result, "targets apache and kubernetes would share the state file")


def test_a_command_word_among_several_owners_is_refused() -> None:
    one_line_error(run_cli("apache", "sync", "--dry-run"), "'sync' is a gz-tui command word", "--owner sync")


def test_owner_flag_and_double_dash_stay_single() -> None:
    one_line_error(run_cli("a", "b", "--owner", "status"), "one owner", "'a'", "'b'", "'status'")


def test_demo_runs_one_owner() -> None:
    one_line_error(run_cli("--demo", "a", "b"), "--demo runs one owner")


def test_help_shows_several_owners_and_sync() -> None:
    assert "gz-tui sync" in run_cli("--help").stdout
    sync_help = run_cli("sync", "--help")
    assert sync_help.returncode == 0 and "NAME" in sync_help.stdout and "--stats-file" in sync_help.stdout
    assert "--owner" not in sync_help.stdout and "--demo" not in sync_help.stdout


# --------------------------------------------------------------------------- config init / show


def test_init_writes_a_commented_targets_example_that_parses_once_uncommented(env: dict[str, str], cfg: Path) -> None:
    assert show(["init"], env)[0] == 0
    text = cfg.read_text()
    loaded = load_config(cfg)
    assert loaded is not None and loaded.targets == {}  # commented out: an init'd file has no targets
    assert "gz-tui sync" in text and re.search(r"^#\s+0 3 \* \* \* .*gz-tui sync", text, re.M)

    example = text[text.index("#   [targets.apache]") : text.index("# Every night")]
    uncommented = "\n".join(line.removeprefix("#").removeprefix("   ") for line in example.splitlines())
    cfg.write_text(text + '\n[profiles.work]\nprovider = "gitlab"\n' + uncommented)
    loaded = load_config(cfg)
    assert loaded is not None and list(loaded.targets) == ["apache", "backend"]
    assert loaded.targets["backend"]["post_sync"] == ("/usr/local/bin/reindex", "--quiet")
    assert tomllib.loads(default_config_text())["defaults"].get("post_sync") is None


def test_show_prints_a_block_per_target_with_sources(env: dict[str, str], cfg: Path) -> None:
    cfg.write_text(TARGETS)
    env["WORK_TOKEN"] = "glpat-verysecret"
    code, out, err = show(["show"], env)
    assert code == 0, err
    assert "glpat-verysecret" not in out + err
    blocks = out.split("\n\n")
    assert len(blocks) == 4  # the settings of `gz-tui OWNER`, then one block per target
    assert blocks[0].startswith(f"config file  {cfg}")
    backend = {line.split()[0]: line for line in blocks[2].splitlines()[1:]}
    assert blocks[2].splitlines()[0] == "[targets.backend]   profile: work"
    assert backend["owner"].split()[1] == "platform/backend" and backend["owner"].endswith("[targets.backend]")
    assert backend["update"].split()[1] == "reset" and backend["update"].endswith(f"config {cfg} [targets.backend]")
    assert backend["workers"].split()[1] == "3" and backend["workers"].endswith("[profiles.work]")
    assert backend["dest"].split()[1] == "/data/backend"
    assert backend["post_sync"].split()[1] == "(none)"
    assert "***" in backend["token"] and "WORK_TOKEN" in backend["token"]
    apache = {line.split()[0]: line for line in blocks[1].splitlines()[1:]}
    assert apache["exclude"].split()[1] == "^incubator-"
    assert apache["post_sync"].split(None, 1)[1].startswith('["/usr/bin/true", "--all"]')
    assert apache["dest"].split()[1] == "/srv/mirror/apache"


def test_show_name_prints_that_target_only(env: dict[str, str], cfg: Path) -> None:
    cfg.write_text(TARGETS)
    code, out, err = show(["show", "codeberg"], env)
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"config file  {cfg}")
    assert "[targets.codeberg]" in out and "[targets.apache]" not in out
    assert out.count("workers ") == 1
    code, out, err = show(["show", "nope"], env)
    assert (code, out) == (2, "")
    assert err == f"gz-tui config: error: no target 'nope' in {cfg} (targets there: apache, backend, codeberg)\n"


def test_show_without_targets_is_as_before(env: dict[str, str]) -> None:
    code, out, _ = show(["show"], env)
    assert code == 0 and "\n\n" not in out and "[targets." not in out


# --------------------------------------------------------------------------- status


def test_status_without_a_state_here_reports_every_target(cfg: Path, forge_factory: Any, tmp_path: Path) -> None:
    sim = forge_factory(org="acme", repos=3)
    synced, never = tmp_path / "m" / "acme", tmp_path / "m" / "other"
    assert run_cli("acme", "--base-url", sim.base_url, "--dest", str(synced)).returncode == 0
    cfg.write_text(f'[targets.acme]\nbase_url = "{sim.base_url}"\ndest = "{synced}"\n[targets.other]\ndest = "{never}"\n')
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    result = run_cli("status", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    acme, other = result.stdout.split("\n\n")
    assert acme.splitlines()[0] == f"[targets.acme] {synced}"
    assert "last run #1: finished" in acme and "done 3" in acme
    assert other.splitlines() == [f"[targets.other] {never}", f"never run (no state at {never / '.gz-tui' / 'state.sqlite3'})"]

    here = run_cli("status", cwd=synced)  # a state here: that one, as before
    assert here.returncode == 0 and "[targets." not in here.stdout and "last run #1" in here.stdout


def test_status_without_targets_or_state_is_as_before(cfg: Path, tmp_path: Path) -> None:
    result = run_cli("status", cwd=tmp_path)
    one_line_error(result, "no gz-tui state at .gz-tui/state.sqlite3")
    cfg.write_text("[targets.x]\nworkers = 0\n")
    one_line_error(run_cli("status", cwd=tmp_path), f"{cfg}: [targets.x] workers = 0")
    one_line_error(run_cli("status", str(tmp_path), cwd=tmp_path), "no gz-tui state at")  # DEST given: as before


def test_show_names_the_selection_and_the_app_of_a_target_only_where_set(env: dict[str, str], cfg: Path, tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    cfg.write_text(
        '[targets.apache]\ntopics = ["backend", "infra"]\nlanguage = "Go"\nssh_hostname = "github-work"\n\n'
        f'[targets.bot]\nowner = "acme"\ngithub_app_id = 42\ngithub_app_key = "{key}"\n'
    )
    code, out, err = show(["show"], env)
    assert code == 0, err
    general, apache, bot = out.split("\n\n")
    rows = {line.split()[0]: line for line in apache.splitlines()[1:]}
    assert rows["topics"].split(None, 1)[1].startswith('["backend", "infra"]')
    assert rows["language"].split()[1] == "Go" and rows["ssh_hostname"].split()[1] == "github-work"
    assert "github_app_id" not in apache and "repos_file" not in apache and "topics" not in general
    rows = {line.split()[0]: line for line in bot.splitlines()[1:]}
    assert "GitHub App 42" in rows["token"] and "set GH_TOKEN" not in rows["token"]
    assert rows["github_app_key"].split()[1] == str(key)
