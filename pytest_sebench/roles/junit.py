"""Accuracy per split and the gates' verdicts as ``<testsuite>`` properties of the JUnit XML."""

from __future__ import annotations

import pytest

from ..session import SebenchSession


def add_session_properties(config: pytest.Config, session: SebenchSession) -> None:
    """``record_testsuite_property`` is a fixture, so under xdist it runs on a worker and the controller,
    which writes the XML, never sees it. The controller's junitxml plugin object accepts global
    properties directly; it is found by that public method, not by importing pytest internals.
    """
    writers = [plugin for plugin in config.pluginmanager.get_plugins()
               if callable(getattr(plugin, "add_global_property", None))]
    if not writers:  # no --junitxml
        return
    evaluation = session.evaluation()
    properties: list[tuple[str, object]] = [
        (f"sebench_accuracy_{name}", f"{stats.accuracy:.6f}")
        for name, stats in [*evaluation.summary.splits.items(), ("overall", evaluation.summary.overall)]]
    properties += [(f"sebench_gate_{gate.name.replace(' ', '_')}", "pass" if gate.passed else "fail")
                   for gate in evaluation.gates]
    properties += [("sebench_regressions", len(evaluation.comparison.regressions)),
                   ("sebench_model", session.facts.model.label)]
    for writer in writers:
        for name, value in properties:
            writer.add_global_property(name, value)
