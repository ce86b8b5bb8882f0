"""The CI gate: compare a run with a baseline report and decide whether the checkpoint regressed."""
