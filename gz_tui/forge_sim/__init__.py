"""The embedded forge: GitHub / GitLab / Gitea listing APIs and git smart HTTP on 127.0.0.1.

Used by tests, ``--demo`` and benchmarks; stdlib only and free of Textual.
"""

from gz_tui.forge_sim.records import RequestRecord
from gz_tui.forge_sim.scenario import Scenario
from gz_tui.forge_sim.sim import ForgeSim

__all__ = ["ForgeSim", "RequestRecord", "Scenario"]
