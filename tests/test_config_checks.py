"""One table of checks: a value meets the same rule from a flag or the config file, and the error names where it came from."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from gz_tui.config import ConfigError, resolve_with_sources
from gz_tui.config.command import config_command
from tests.conftest import run_cli


@pytest.fixture
def cfg() -> Path:
    """The config file every gz-tui in this test reads (the autouse fixture points GZ_TUI_CONFIG at it)."""
    return Path(os.environ["GZ_TUI_CONFIG"])


BOUNDS = [
    ("workers", 65, "must be at most 64"),
    ("buffer", 100_001, "must be at most 100,000"),
    ("attempts", 21, "must be at most 20"),
]


@pytest.mark.parametrize(("key", "value", "problem"), BOUNDS)
def test_a_bound_in_the_defaults_table_names_the_file_the_table_and_the_value(cfg: Path, key: str, value: int, problem: str) -> None:
    cfg.write_text(f"[defaults]\n{key} = {value}\n")
    with pytest.raises(ConfigError) as err:
        resolve_with_sources({"owner": "o"})
    assert str(err.value) == f"{cfg}: [defaults] {key} = {value}: {problem}"


@pytest.mark.parametrize(("key", "value", "problem"), BOUNDS)
def test_a_bound_in_a_profile_names_the_profile(cfg: Path, key: str, value: int, problem: str) -> None:
    cfg.write_text(f'[profiles.work]\nprovider = "gitlab"\n{key} = {value}\n')
    with pytest.raises(ConfigError) as err:
        resolve_with_sources({"owner": "o"})
    assert str(err.value) == f"{cfg}: [profiles.work] {key} = {value}: {problem}"


@pytest.mark.parametrize(("key", "value", "problem"), BOUNDS)
def test_the_same_bound_from_a_flag_names_the_flag(cfg: Path, key: str, value: int, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolve_with_sources({"owner": "o", key: value})
    assert str(err.value) == f"--{key} {problem}"
    cfg.write_text(f"[defaults]\n{key} = {value - 1}\n")  # the bound itself is fine, from the file too
    assert getattr(resolve_with_sources({"owner": "o", key: value - 1}).settings, key) == value - 1
    assert getattr(resolve_with_sources({"owner": "o"}).settings, key) == value - 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"workers": 0}, "--workers must be a whole number of at least 1"),
        ({"depth": 0}, "--depth must be a whole number of at least 1"),
        ({"include": "("}, "--include is not a valid regular expression"),
        ({"exclude": "[a"}, "--exclude is not a valid regular expression"),
        ({"base_url": "gitlab.example.com"}, "--base-url must be an http(s) URL"),
        ({"provider": "svn"}, '--provider must be one of "github", "gitlab", "gitea"'),
    ],
)
def test_a_bad_flag_is_refused_before_anything_runs(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        resolve_with_sources({"owner": "o", **flags})


def test_a_bound_broken_in_the_file_is_not_blamed_on_a_flag(cfg: Path, tmp_path: Path) -> None:
    cfg.write_text("[defaults]\nworkers = 1000\n")
    result = run_cli("acme", "--dest", str(tmp_path / "d"))
    assert result.returncode == 2
    assert result.stderr == f"gz-tui: {cfg}: [defaults] workers = 1000: must be at most 64\n"
    assert not (tmp_path / "d").exists()


def test_plain_http_written_in_a_profile_names_the_profile(cfg: Path, tmp_path: Path) -> None:
    cfg.write_text('[profiles.work]\nprovider = "gitea"\nbase_url = "http://git.example"\n')
    result = run_cli("acme", "--profile", "work", "--dest", str(tmp_path / "d"))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f'gz-tui: {cfg}: [profiles.work] base_url = "http://git.example": ')
    assert "plain http" in lines[0] and "--insecure-http" in lines[0]


def test_config_show_refuses_a_file_with_an_out_of_bounds_value(cfg: Path) -> None:
    cfg.write_text("[defaults]\nbuffer = 5000000\n")
    out, err = io.StringIO(), io.StringIO()
    assert config_command(["show"], stdout=out, stderr=err) == 2
    assert out.getvalue() == ""
    assert err.getvalue() == f"gz-tui config: error: {cfg}: [defaults] buffer = 5000000: must be at most 100,000\n"
