"""The config seam: file format, profiles, precedence, tokens, and `gz-tui config init|show|path`."""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import time
import tomllib
from dataclasses import FrozenInstanceError, fields, replace
from pathlib import Path
from typing import Any

import platformdirs
import pytest

from gz_tui import config as config_module
from gz_tui.config import (
    ConfigError,
    Settings,
    config_path,
    resolve,
    resolve_with_sources,
)
from gz_tui.config.command import config_command

posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes and shell scripts")


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "conf" / "config.toml"


@pytest.fixture
def env(tmp_path: Path, cfg: Path) -> dict[str, str]:
    """A hermetic environment: our config file, our log dir, and a PATH with no `gh` on it."""
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    return {
        "GZ_TUI_CONFIG": str(cfg),
        "GZ_TUI_LOG_DIR": str(tmp_path / "logs"),
        "PATH": str(empty_bin),
        "HOME": str(tmp_path / "home"),
    }


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def run(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = config_command(argv, stdout=out, stderr=err, environ=env)
    return code, out.getvalue(), err.getvalue()


def fake_gh(tmp_path: Path, body: str) -> Path:
    """A `gh` executable in its own directory; returns that directory."""
    bindir = tmp_path / "gh-bin"
    bindir.mkdir(exist_ok=True)
    gh = bindir / "gh"
    gh.write_text("#!/bin/sh\n" + body + "\n")
    gh.chmod(0o755)
    return bindir


PROFILES = """
[defaults]
workers = 4
protocol = "ssh"
update = "pull"
depth = 5
skip_forks = true

[profiles.github]
workers = 6
update = "reset"
depth = 2

[profiles.work]
provider = "gitlab"
base_url = "https://gitlab.example.com/"
token_env = "WORK_TOKEN"
dest_root = "/srv/clones/work"
workers = 3

[profiles.home]
provider = "gitea"
base_url = "https://git.home.example"
"""


# --------------------------------------------------------------------------- path seam


def test_config_path_follows_the_environment_variable(tmp_path: Path) -> None:
    assert config_path({"GZ_TUI_CONFIG": str(tmp_path / "x.toml")}) == tmp_path / "x.toml"


def test_config_path_defaults_to_the_user_config_dir() -> None:
    expected = platformdirs.user_config_path("gz-tui") / "config.toml"
    assert config_path({}) == expected
    assert config_path({"GZ_TUI_CONFIG": "  "}) == expected


def test_no_config_file_means_builtin_defaults(env: dict[str, str]) -> None:
    resolved = resolve_with_sources({"owner": "acme/tools"}, env)
    assert resolved.settings == Settings(owner="acme/tools", dest=Path("tools"))
    assert not resolved.config_found
    assert resolved.warnings == []
    assert set(resolved.sources.values()) == {"default", "flag"}
    assert resolved.sources["owner"] == "flag" and resolved.sources["workers"] == "default"


def test_resolved_settings_never_change_and_replace_makes_new_ones(env: dict[str, str]) -> None:
    settings = resolve_with_sources({"owner": "acme", "workers": 4}, env).settings
    with pytest.raises(FrozenInstanceError):
        settings.workers = 2  # type: ignore[misc]
    fewer = replace(settings, workers=2)
    assert (fewer.workers, settings.workers, fewer.target) == (2, 4, "acme")


# --------------------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    ("field", "flag", "in_profile", "in_defaults", "builtin"),
    [
        ("workers", 10, 6, 4, 8),
        ("update", "skip", "reset", "pull", "fetch"),
        ("depth", 9, 2, 5, None),
    ],
)
def test_flag_beats_profile_beats_defaults_beats_builtin(
    env: dict[str, str], cfg: Path, field: str, flag: Any, in_profile: Any, in_defaults: Any, builtin: Any
) -> None:
    write(cfg, PROFILES)
    both = resolve_with_sources({"owner": "o", field: flag}, env)
    assert getattr(both.settings, field) == flag and both.sources[field] == "flag"

    profile = resolve_with_sources({"owner": "o"}, env)  # [profiles.github] is picked for github
    assert profile.profile == "github"
    assert getattr(profile.settings, field) == in_profile
    assert profile.sources[field] == f"config {cfg} [profiles.github]"

    write(cfg, PROFILES.replace("[profiles.github]", '[profiles.gh]\nprovider = "github"'))
    defaults = resolve_with_sources({"owner": "o"}, env)
    assert defaults.profile is None
    assert getattr(defaults.settings, field) == in_defaults
    assert defaults.sources[field] == f"config {cfg} [defaults]"

    cfg.unlink()
    assert getattr(resolve_with_sources({"owner": "o"}, env).settings, field) == builtin


def test_defaults_fill_what_the_profile_leaves_out(env: dict[str, str], cfg: Path) -> None:
    write(cfg, PROFILES)
    s = resolve_with_sources({"owner": "o", "profile": "work"}, env)
    assert (s.settings.workers, s.settings.protocol, s.settings.skip_forks) == (3, "ssh", True)
    assert s.sources["workers"].endswith("[profiles.work]")
    assert s.sources["protocol"].endswith("[defaults]")
    assert s.sources["buffer"] == "default"


def test_token_precedence_flag_then_token_env_then_provider_vars_then_config(env: dict[str, str], cfg: Path) -> None:
    write(cfg, PROFILES.replace('token_env = "WORK_TOKEN"', 'token_env = "WORK_TOKEN"\ntoken = "from-file"'))
    env |= {"WORK_TOKEN": "from-work-env", "GITLAB_TOKEN": "from-gitlab-env"}
    flags = {"owner": "o", "profile": "work"}

    s = resolve_with_sources(flags | {"token": "from-flag"}, env)
    assert (s.settings.token, s.settings.token_source, s.sources["token"]) == ("from-flag", "--token", "flag")

    s = resolve_with_sources(flags, env)
    assert (s.settings.token, s.settings.token_source) == ("from-work-env", "WORK_TOKEN")
    assert s.sources["token"] == "env WORK_TOKEN ([profiles.work] token_env)"

    del env["WORK_TOKEN"]
    s = resolve_with_sources(flags, env)
    assert (s.settings.token, s.sources["token"]) == ("from-gitlab-env", "env GITLAB_TOKEN")
    assert any("WORK_TOKEN is not set" in w for w in s.warnings)

    del env["GITLAB_TOKEN"]
    s = resolve_with_sources(flags, env)
    assert s.settings.token == "from-file"
    assert s.sources["token"] == f"config {cfg} [profiles.work]"
    assert "from-file" not in s.settings.token_source


def test_github_token_variables_in_order(env: dict[str, str]) -> None:
    s = resolve({"owner": "o"}, env | {"GH_TOKEN": "a", "GITHUB_TOKEN": "b"})
    assert (s.token, s.token_source) == ("a", "GH_TOKEN")
    s = resolve({"owner": "o"}, env | {"GH_TOKEN": "  ", "GITHUB_TOKEN": "b"})
    assert (s.token, s.token_source) == ("b", "GITHUB_TOKEN")


def test_the_token_of_another_forge_is_never_used(env: dict[str, str], cfg: Path) -> None:
    write(cfg, PROFILES)
    env |= {"WORK_TOKEN": "work-secret", "GITLAB_TOKEN": "public-gitlab"}
    s = resolve_with_sources({"owner": "o", "profile": "work", "base_url": "https://elsewhere.example"}, env)
    assert s.settings.api_base == "https://elsewhere.example"
    assert s.settings.token == "public-gitlab"
    assert any("not using the token of [profiles.work]" in w for w in s.warnings)


# --------------------------------------------------------------------------- profile selection


def test_profile_flag_selects_the_profile(env: dict[str, str], cfg: Path) -> None:
    write(cfg, PROFILES)
    s = resolve_with_sources({"owner": "grp/sub/team", "profile": "work"}, env)
    assert s.profile == "work" and s.notes == ()  # named: nothing to announce
    assert (s.settings.provider, s.settings.api_base) == ("gitlab", "https://gitlab.example.com")
    assert s.settings.dest == Path("/srv/clones/work/team")
    assert s.sources["dest"] == f"config {cfg} [profiles.work] dest_root"


def test_dest_flag_beats_dest_root(env: dict[str, str], cfg: Path, tmp_path: Path) -> None:
    write(cfg, PROFILES)
    s = resolve_with_sources({"owner": "grp", "profile": "work", "dest": str(tmp_path / "x")}, env)
    assert s.settings.dest == tmp_path / "x" and s.sources["dest"] == "flag"


def test_profile_is_found_by_base_url_alone(env: dict[str, str], cfg: Path) -> None:
    write(cfg, PROFILES)
    s = resolve_with_sources({"owner": "o", "base_url": "https://git.home.example/"}, env)
    assert s.profile == "home" and s.settings.provider == "gitea"
    assert s.sources["provider"] == f"config {cfg} [profiles.home]"
    assert s.notes == ("using [profiles.home]: it matches --base-url https://git.home.example",)


def test_profile_is_found_by_the_only_matching_provider(env: dict[str, str], cfg: Path) -> None:
    write(cfg, PROFILES)
    s = resolve_with_sources({"owner": "o", "provider": "gitlab"}, env)
    assert s.profile == "work" and s.settings.workers == 3
    assert s.notes == ("using [profiles.work]: it matches --provider gitlab",)


def test_no_profile_when_base_url_matches_none(env: dict[str, str], cfg: Path) -> None:
    write(cfg, PROFILES)
    s = resolve_with_sources({"owner": "o", "provider": "gitlab", "base_url": "https://gitlab.com"}, env)
    assert s.profile is None and s.settings.workers == 4  # [defaults]


def test_ambiguous_match_prefers_the_profile_named_after_the_provider(env: dict[str, str], cfg: Path) -> None:
    write(cfg, PROFILES + '\n[profiles.gitlab]\nworkers = 7\n[profiles.corp2]\nprovider = "gitlab"\n')
    s = resolve_with_sources({"owner": "o", "provider": "gitlab"}, env)
    assert s.profile == "gitlab" and s.settings.workers == 7
    assert s.notes == ("using [profiles.gitlab]: it is named after the provider of --provider gitlab",)


def test_ambiguous_match_without_a_provider_named_profile_warns(env: dict[str, str], cfg: Path) -> None:
    write(cfg, PROFILES + '\n[profiles.corp2]\nprovider = "gitlab"\n')
    s = resolve_with_sources({"owner": "o", "provider": "gitlab"}, env)
    assert s.profile is None
    assert any("--profile" in w and "work" in w and "corp2" in w for w in s.warnings)


def test_defaults_profile_names_the_profile_to_use(env: dict[str, str], cfg: Path) -> None:
    write(cfg, PROFILES.replace("[defaults]", '[defaults]\nprofile = "home"'))
    s = resolve_with_sources({"owner": "o"}, env)
    assert s.profile == "home" and s.settings.provider == "gitea"
    assert s.notes == ()  # the file names it


def test_unknown_profile_is_a_one_line_error(env: dict[str, str], cfg: Path) -> None:
    write(cfg, PROFILES)
    with pytest.raises(ConfigError) as err:
        resolve_with_sources({"owner": "o", "profile": "wrok"}, env)
    message = str(err.value)
    assert "\n" not in message and "wrok" in message and "work" in message and str(cfg) in message


def test_provider_flag_conflicting_with_profile_is_an_error(env: dict[str, str], cfg: Path) -> None:
    write(cfg, PROFILES)
    with pytest.raises(ConfigError, match="--provider gitea conflicts with .profiles.work."):
        resolve_with_sources({"owner": "o", "profile": "work", "provider": "gitea"}, env)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[defaults]\nwokers = 3\n", 'unknown key "wokers" in [defaults]; did you mean "workers"?'),
        ('[profiles.work]\nprovider = "gitlab"\ntoken_var = "X"\n', 'unknown key "token_var" in [profiles.work]'),
        ("[default]\nworkers = 3\n", 'unknown key "default" in the top level'),
        ("[defaults]\ninsecure_http = true\n", 'unknown key "insecure_http"'),
        ('[defaults]\ntoken_env = "T"\n', '"token_env" belongs in a [profiles.NAME] or [targets.NAME] table, not in [defaults]'),
        ('[profiles.w]\nprovider = "gitlab"\ntoken_env = "MY-TOKEN"\n', '[profiles.w] token_env = "MY-TOKEN"'),
        ('[defaults]\nworkers = "eight"\n', '[defaults] workers = "eight": expected a whole number'),
        ("[defaults]\nworkers = true\n", "[defaults] workers = true: expected a whole number"),
        ("[defaults]\nworkers = 0\n", "[defaults] workers = 0: expected a whole number of at least 1"),
        ("[defaults]\nskip_forks = 1\n", "[defaults] skip_forks = 1: expected true or false"),
        ('[defaults]\nprotocol = "git"\n', '[defaults] protocol = "git": expected one of "https", "ssh"'),
        ('[defaults]\ndest_root = "src"\n', '[defaults] dest_root = "src": expected an absolute path'),
        ('[profiles.w]\nprovider = "gitlab"\nbase_url = "gitlab.x"\n', "[profiles.w] base_url"),
        ('[profiles.w]\nprovider = "gitea"\nbase_url = "https://me:pw@git.x"\n', "base_url = (hidden): expected a URL without credentials"),
        (
            "[profiles.w]\nworkers = 2\n",
            '[profiles.w] needs provider = "github", "gitlab", "gitea", "bitbucket", "bitbucket-server", "sourcehut" or "gogs"',
        ),
        ('[profiles.w]\nprovider = "gitlab"\ntoken = 5\n', "[profiles.w] token = (hidden)"),
        ('[defaults]\nprofile = "nope"\n', '[defaults] profile = "nope" names no [profiles.*] table'),
        ("[defaults\nworkers = 3\n", "invalid TOML"),
        ("profiles = 3\n", "profiles must be tables"),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key(env: dict[str, str], cfg: Path, text: str, named: str) -> None:
    write(cfg, text)
    with pytest.raises(ConfigError) as err:
        resolve({"owner": "o"}, env)
    message = str(err.value)
    assert isinstance(err.value, ValueError)
    assert "\n" not in message
    assert message.startswith(f"{cfg}: ")
    assert named in message


def test_bad_config_through_config_show_is_exit_2_one_line(env: dict[str, str], cfg: Path) -> None:
    write(cfg, '[defaults]\nworkers = "many"\n')
    code, out, err = run(["show"], env)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "workers" in err and "Traceback" not in err


# --------------------------------------------------------------------------- tokens in the file, gh


@posix_only
def test_token_in_a_world_readable_config_warns(env: dict[str, str], cfg: Path) -> None:
    write(cfg, '[profiles.github]\ntoken = "ghp_secretvalue"\n', mode=0o644)
    s = resolve_with_sources({"owner": "o"}, env)
    assert s.settings.token == "ghp_secretvalue"
    assert len(s.warnings) == 1
    assert "chmod 600" in s.warnings[0] and "0644" in s.warnings[0] and "ghp_secretvalue" not in s.warnings[0]

    os.chmod(cfg, 0o600)
    assert resolve_with_sources({"owner": "o"}, env).warnings == []


@posix_only
def test_gh_auth_token_is_the_github_fallback(env: dict[str, str], tmp_path: Path) -> None:
    calls = tmp_path / "gh-args"
    env["PATH"] = str(fake_gh(tmp_path, f'echo "$@" > "{calls}"\necho gho_fromgh'))
    s = resolve_with_sources({"owner": "o"}, env)
    assert (s.settings.token, s.settings.token_source, s.sources["token"]) == (
        "gho_fromgh",
        "gh auth token",
        "gh auth token",
    )
    assert calls.read_text().split() == ["auth", "token", "--hostname", "github.com"]

    ghe = resolve_with_sources({"owner": "o", "base_url": "https://ghe.corp.example/api/v3"}, env)
    assert ghe.settings.token == "gho_fromgh"
    assert calls.read_text().split()[-1] == "ghe.corp.example"

    assert resolve_with_sources({"owner": "o", "provider": "gitlab"}, env).settings.token is None
    assert resolve({"owner": "o"}, env | {"GH_TOKEN": "env-wins"}).token == "env-wins"


@posix_only
def test_gh_on_the_real_path_through_resolve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GH_TOKEN", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GZ_TUI_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("PATH", str(fake_gh(tmp_path, "echo gho_viapath")))
    assert resolve({"owner": "o"}).token == "gho_viapath"
    monkeypatch.setenv("PATH", str(tmp_path))  # no gh there
    assert resolve({"owner": "o"}).token is None


@posix_only
def test_gh_failing_or_hanging_falls_through_to_the_config_token(
    env: dict[str, str], cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(cfg, '[profiles.github]\ntoken = "from-file"\n')
    env["PATH"] = str(fake_gh(tmp_path, "echo 'not logged in' >&2\nexit 1"))
    assert resolve({"owner": "o"}, env).token == "from-file"

    monkeypatch.setattr(config_module.tokens, "GH_TIMEOUT_SECONDS", 0.3)
    env["PATH"] = str(fake_gh(tmp_path, f"exec {shutil.which('sleep')} 30"))
    started = time.monotonic()
    s = resolve_with_sources({"owner": "o"}, env)
    assert 0.3 <= time.monotonic() - started < 10
    assert s.settings.token == "from-file" and s.sources["token"] == f"config {cfg} [profiles.github]"


def test_no_gh_and_no_token_means_none(env: dict[str, str]) -> None:
    s = resolve_with_sources({"owner": "o"}, env)
    assert s.settings.token is None and s.sources["token"] == "default"


# --------------------------------------------------------------------------- config init / show / path


def test_init_writes_a_private_commented_config_that_round_trips_to_the_defaults(env: dict[str, str], cfg: Path) -> None:
    code, out, err = run(["init"], env)
    assert (code, err) == (0, "")
    assert str(cfg) in out
    text = cfg.read_text()
    assert text.startswith("# gz-tui configuration")
    if os.name != "nt":
        assert stat.S_IMODE(cfg.stat().st_mode) == 0o600

    assert tomllib.loads(text)["defaults"] == {}  # nothing pinned: a default a later release changes reaches this file
    from_file = resolve_with_sources({"owner": "acme"}, env)
    assert from_file.config_found
    assert from_file.sources["workers"] == "default"  # not attributed to the file
    assert from_file.settings == Settings(owner="acme", dest=Path("acme"))

    # Every built-in default is there to see, commented out, and means the default once uncommented.
    table = text[text.index("\n[defaults]\n") : text.index("\n# Targets:")]
    shown = [line.removeprefix("# ").split("  #")[0] for line in table.splitlines() if re.match(r"# [a-z_]+ = ", line)]
    document = tomllib.loads("\n".join(shown))
    builtin = {f.name: f.default for f in fields(Settings)}
    assert document["workers"] == builtin["workers"] and len(document) > 15
    for key, value in document.items():
        assert value == builtin[key], key
    cfg.write_text(text.replace("# workers = 8", "workers = 8"))
    assert resolve_with_sources({"owner": "acme"}, env).sources["workers"] == f"config {cfg} [defaults]"


@posix_only
def test_init_file_is_0600_whatever_the_umask(env: dict[str, str], cfg: Path) -> None:
    old = os.umask(0)
    try:
        assert run(["init"], env)[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600


def test_init_refuses_to_overwrite_without_force(env: dict[str, str], cfg: Path) -> None:
    write(cfg, "[defaults]\nworkers = 2\n", mode=0o644)
    code, out, err = run(["init"], env)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "already exists" in err and "--force" in err
    assert cfg.read_text() == "[defaults]\nworkers = 2\n"

    code, _, _ = run(["init", "--force"], env)
    assert code == 0
    assert "\n# workers = 8 " in cfg.read_text() and tomllib.loads(cfg.read_text())["defaults"] == {}
    if os.name != "nt":
        assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert [p.name for p in cfg.parent.iterdir()] == ["config.toml"]  # no temp file left


def test_path_prints_the_config_path(env: dict[str, str], cfg: Path) -> None:
    assert run(["path"], env) == (0, f"{cfg}\n", "")


def test_show_lists_every_source_and_never_the_token(env: dict[str, str], cfg: Path) -> None:
    write(cfg, PROFILES)
    env["WORK_TOKEN"] = "glpat-verysecret"
    code, out, err = run(["show", "--profile", "work"], env)
    assert code == 0, err
    assert "glpat-verysecret" not in out + err
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "profile: work" in lines["config"]
    assert "***" in lines["token"] and "env WORK_TOKEN" in lines["token"]
    assert "gitlab" in lines["provider"] and lines["provider"].endswith("[profiles.work]")
    assert "https://gitlab.example.com" in lines["base_url"]
    assert lines["workers"].split()[1] == "3" and lines["workers"].endswith("[profiles.work]")
    assert lines["protocol"].split()[1] == "ssh" and lines["protocol"].endswith("[defaults]")
    assert lines["buffer"].split()[1:] == ["1000", "default"]
    assert lines["token_cmd_timeout"].split()[1:] == ["60", "default"]  # how long a token command may hang
    assert "/srv/clones/work" in lines["dest"]
    assert str(Path(env["GZ_TUI_LOG_DIR"]) / "gz-tui.log") in lines["log_file"]


@posix_only
def test_show_never_prints_a_token_from_the_file_and_repeats_the_warning(env: dict[str, str], cfg: Path) -> None:
    write(cfg, '[profiles.github]\ntoken = "ghp_inthefile"\n', mode=0o644)
    code, out, err = run(["show"], env)
    assert code == 0
    assert "ghp_inthefile" not in out + err
    assert "warning:" in err and "chmod 600" in err
    assert "***" in out


def test_show_without_a_token_says_how_to_get_one(env: dict[str, str]) -> None:
    code, out, _ = run(["show", "--provider", "gitea"], env)
    assert code == 0
    token_line = next(line for line in out.splitlines() if line.startswith("token"))
    assert "(none)" in token_line and "GITEA_TOKEN" in token_line
    assert "not found" in out.splitlines()[0]


@pytest.mark.parametrize("argv", [[], ["bogus"], ["init", "--forse"], ["show", "--provider", "svn"]])
def test_usage_errors_are_exit_2_with_one_line(env: dict[str, str], argv: list[str]) -> None:
    code, out, err = run(argv, env)
    assert code == 2 and out == ""
    assert err.startswith("gz-tui config: error: ") and err.count("\n") == 1


def test_help_goes_to_stdout_and_exits_0(env: dict[str, str]) -> None:
    code, out, err = run(["show", "--help"], env)
    assert code == 0 and "--profile" in out and err == ""


@posix_only
def test_init_into_an_unwritable_place_is_exit_2_one_line(env: dict[str, str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env["GZ_TUI_CONFIG"] = str(blocker / "sub" / "config.toml")
    code, _, err = run(["init"], env)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
