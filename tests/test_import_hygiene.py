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
