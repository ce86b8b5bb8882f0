"""The run's scratch folder: what the processes of one run share besides the answer cache.

The progress snapshots go there, and the answers themselves with ``--sebench-cache=off``. Its own
module because both the answer source's set-up (``factory.py``) and the snapshot writer in every
asking process (``progress_snapshots.py``) need it, and the latter must not load the former.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def run_scratch(run_id: str) -> Path:
    """The same folder in every process of the run (xdist workers know the run id, not a path)."""
    return Path(tempfile.gettempdir()) / f"sebench-run-{run_id}"
