"""The core (forges, pipeline, embedded forge, headless) must never import Textual: headless stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    ["gz_tui.forges.github", "gz_tui.pipeline.runner", "gz_tui.forge_sim", "gz_tui.headless", "gz_tui.config", "gz_tui.status"],
)
def test_core_module_does_not_import_textual(module: str) -> None:
    code = f"import sys, {module}; print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_test_support_is_not_on_the_runtime_path() -> None:
    """The fixed demo snapshots, the screenshot generator and the embedded forge are for tests, --demo and the
    bench: starting the dashboard (cli → app → screens → widgets) imports none of them."""
    code = (
        "import sys, gz_tui.cli, gz_tui.tui.app, gz_tui.pipeline.runner; "
        "print(sorted(m for m in sys.modules if m.startswith(('gz_tui.tui.demo_data', 'gz_tui.tui.screenshots', 'gz_tui.forge_sim'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
