"""What the controller writes to the terminal around the run: the header lines and the end."""

from __future__ import annotations

from typing import Any

import pytest

from ..report.outputs import flag_of, requested
from ..report.summary import render_summary
from ..report.terminal import NextSteps, render_evaluation
from ..session import RunFacts, SebenchSession


def header_lines(facts: RunFacts) -> list[str]:
    benchmark, settings = facts.benchmark, facts.settings
    lines = [f"sebench: model={facts.model.label} data={benchmark.data_source} "
             f"library={benchmark.library.name} problems={len(benchmark.problems)} "
             f"sandbox={settings.sandbox} timeout={settings.timeout:g}s"]
    if facts.baseline is not None:
        lines.append(f"sebench: baseline {facts.baseline.label} ({facts.baseline.path}, "
                     f"{len(facts.baseline.items)} items)")
    if facts.only_solved_by is not None:
        lines.append(f"sebench: {selection_note(facts)}")
    if settings.limit is not None:
        lines.append(f"sebench: a stable random subset of at most {settings.limit} problems per split "
                     f"(--sebench-limit={settings.limit}, --sebench-seed={settings.seed})")
    lines += [f"sebench: WARNING: {note}" for note in facts.notes]
    return lines


def selection_note(facts: RunFacts) -> str:
    assert facts.only_solved_by is not None
    ids = {problem.id for problem in facts.benchmark.problems}
    known = facts.only_solved_by.items
    solved = ids & facts.only_solved_by.solved_ids()
    return (f"only items solved in {facts.only_solved_by.path}: {len(solved)} of {len(ids)} kept; "
            f"{len(ids & known.keys()) - len(solved)} not solved there, {len(ids - known.keys())} not in it")


def write_summary(terminalreporter: Any, config: pytest.Config, session: SebenchSession) -> None:
    writer = config.get_terminal_writer()
    terminalreporter.write_sep("=", "SE-Bench summary")
    evaluation = session.evaluation()
    terminalreporter.write(render_summary(evaluation.summary, width=writer.fullwidth, color=writer.hasmarkup))
    settings = session.settings
    inherited = tuple((flag_of(output), settings.source_of(output.setting))
                      for output, _ in requested(settings)
                      if settings.source_of(output.setting) != "the command line")
    steps = NextSteps(tuple(config.invocation_params.args), settings.report, settings.baseline,
                      errors=evaluation.summary.overall.errors, inherited_outputs=inherited)
    terminalreporter.write(render_evaluation(evaluation, steps, width=writer.fullwidth, color=writer.hasmarkup))
    if (requests := session.requests_line()) is not None:
        terminalreporter.write_line(requests)
    for note in session.facts.notes:  # again at the end, where a CI log is read first
        terminalreporter.write_line(f"WARNING: {note}", yellow=True)
    for error in session.output_errors.values():
        terminalreporter.write_line(f"ERROR: {error}", red=True)
    if settings.report is not None and "report" not in session.output_errors:
        terminalreporter.write_line(f"report written to {settings.report}")
