"""The dashboard's panels, one widget per file; each takes a ``Snapshot`` via ``update_snapshot``."""

from gz_tui.tui.widgets.buffer import BufferGauge
from gz_tui.tui.widgets.errors import ErrorLog
from gz_tui.tui.widgets.header import StatusHeader
from gz_tui.tui.widgets.progress import ProgressPanel
from gz_tui.tui.widgets.rate_limit import RateLimitPanel
from gz_tui.tui.widgets.summary import RunSummary
from gz_tui.tui.widgets.targets import TargetsPanel
from gz_tui.tui.widgets.throughput import ThroughputPanel
from gz_tui.tui.widgets.workers import WorkerTable

__all__ = [
    "BufferGauge",
    "ErrorLog",
    "ProgressPanel",
    "RateLimitPanel",
    "RunSummary",
    "StatusHeader",
    "TargetsPanel",
    "ThroughputPanel",
    "WorkerTable",
]
