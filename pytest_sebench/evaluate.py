"""A whole run from Python, for a training loop's evaluation callback, and the gate on two reports.

:func:`evaluate` runs the plugin as ``pytest`` would from the command line, in a child process with
an empty root folder: the training process gets the same answer cache, request pacing, xdist
workers, statistics, gates and report file as a CI run, and none of a test session's state (signal
handlers, event loops, sandbox processes, imported plugins) is left inside it. It returns the report.

:func:`compare` judges one report against another with the gate's own functions (as ``sebench
compare`` and ``pytest --sebench-baseline`` do).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .data.sources import user_cache_dir
from .gate.baseline import RunReport, run_report_of
from .gate.evaluation import Evaluation, GateSettings
from .gate.figures import OVERALL
from .report.judge import gate_failures, judge
from .report.runs import RunData, read_run
from .settings import OPTION_BY_KEY, parsers

__all__ = ["EvaluationError", "GateOutcome", "Report", "compare", "evaluate"]

# pytest's exit statuses: 0 every item and gate passed, 1 some failed; anything else is no result
_RESULT_STATUSES = (0, 1)


class EvaluationError(RuntimeError):
    """The run could not give a result (a usage error, a server that refuses everything, ...); the
    message is the plugin's own error line."""


@dataclass(frozen=True)
class Report:
    """A finished run's report: its figures, gates and items (the JSON report, read back)."""

    path: Path
    run: RunData
    exit_status: int = 0  # pytest's, when the run was made by :func:`evaluate`
    output: str = ""  # the run's terminal output

    @classmethod
    def read(cls, path: str | Path) -> "Report":
        return cls(Path(path), read_run(Path(path)))

    @property
    def passed(self) -> bool:
        """No item failed and every gate passed (pytest's exit status 0)."""
        return self.exit_status == 0

    @property
    def splits(self) -> list[str]:
        return list(self.run.summary["splits"])

    def figures(self, split: str = OVERALL) -> Mapping[str, Any]:
        summary = self.run.summary
        if split == OVERALL:
            return summary.get(OVERALL) or next(iter(summary["splits"].values()))
        try:
            return summary["splits"][split]
        except KeyError:
            raise KeyError(f"{self.path}: no split {split!r}; the report has {', '.join(self.splits)}") from None

    def accuracy(self, split: str = OVERALL) -> float:
        """mean@k: the mean over items of the fraction of correct samples (pass@1)."""
        return float(self.figures(split)["mean_at_k"])

    def interval(self, split: str = OVERALL) -> tuple[float, float]:
        low, high = self.figures(split)["mean_at_k_ci95"]
        return float(low), float(high)

    @property
    def gates(self) -> list[dict[str, Any]]:
        return list(self.run.top.get("gates") or [])

    @property
    def regressions(self) -> list[str]:
        return list((self.run.top.get("comparison") or {}).get("regressions") or [])

    def metrics(self, prefix: str = "sebench/") -> dict[str, float]:
        """Flat numbers for a training logger (``wandb.log``, TensorBoard): accuracy, its interval and
        pass@k per split and overall, errors, regressions, failed gates."""
        numbers: dict[str, float] = {}
        for split in [*self.splits, OVERALL]:
            figures = self.figures(split)
            low, high = self.interval(split)
            numbers.update({f"{prefix}{split}/accuracy": float(figures["mean_at_k"]),
                            f"{prefix}{split}/accuracy_low": low, f"{prefix}{split}/accuracy_high": high,
                            f"{prefix}{split}/pass_at_k": float(figures["pass_at_k"]),
                            f"{prefix}{split}/errors": float(figures["errors"])})
        numbers[f"{prefix}regressions"] = float(len(self.regressions))
        numbers[f"{prefix}failed_gates"] = float(sum(not gate["passed"] for gate in self.gates))
        return numbers


def _flag_value(key: str, value: Any) -> str:
    """An option's value as the command line spells it (the option's own parser checks it there)."""
    if isinstance(value, Mapping):  # fail_under={"single_test": 0.5}
        return ",".join(f"{split}:{bar}" for split, bar in value.items())
    if isinstance(value, (list, tuple)):
        return ",".join(str(part) for part in value)
    return str(value)


def command_line(options: Mapping[str, Any]) -> list[str]:
    """``--sebench-*`` arguments from keyword options named like :class:`Settings` fields."""
    args = []
    for key, value in options.items():
        option = OPTION_BY_KEY.get(key)
        if option is None:
            known = ", ".join(sorted(OPTION_BY_KEY))
            raise TypeError(f"evaluate() got an unknown option {key!r}; the options are: {known}")
        if value is None or (option.flag_only and value is False):
            continue
        args.append(option.flag if option.flag_only else f"{option.flag}={_flag_value(key, value)}")
    return args


def evaluate(model: str, *, report: str | Path | None = None, workers: int = 0,
             pytest_args: Sequence[str] = (), **options: Any) -> Report:
    """Run the benchmark against ``model`` and return its report.

    ``options`` are the plugin's options by their Settings names, e.g. ``base_url``, ``data``,
    ``split=["single_test"]`` (or ``splits=``, as :func:`load_benchmark` calls it), ``samples``,
    ``baseline``, ``max_drop``, ``fail_under``, ``model_revision``, ``sandbox``, ``mode``, ``max_tokens``,
    ``limit``. ``workers`` is pytest-xdist's ``-n`` (0: one process; N: N processes grading at once).
    ``report``: where the JSON report is kept (default: a temporary file, removed after it is read, so
    ``Report.path`` is gone). Answers are cached in ``~/.cache/pytest-sebench/answers``
    unless ``cache`` says otherwise. A failed gate is a result (``report.passed`` False); a run that
    gives none raises EvaluationError with the plugin's message.
    """
    if "splits" in options:  # load_benchmark's name for it
        options["split"] = options.pop("splits")
    options.setdefault("cache", str(user_cache_dir() / "answers"))
    if workers < 0:
        raise ValueError(f"workers must be 0 or more (pytest-xdist's -n), not {workers}")
    with tempfile.TemporaryDirectory(prefix="sebench-evaluate-") as root:
        target = Path(report).expanduser().resolve() if report is not None else Path(root) / "report.json"
        config = Path(root) / "pytest.ini"
        config.write_text("[pytest]\n", encoding="utf-8")  # not the caller's project configuration
        # A training job under GitHub Actions evaluates many times: no job-summary page per call unless asked
        quiet = [] if "step_summary" in options else ["-o", "sebench_step_summary="]
        argv = [sys.executable, "-m", "pytest", "-c", str(config), "--rootdir", root, "-p", "no:cacheprovider",
                "-q", "-n", str(workers), *quiet, *command_line({"model": model, **options}),
                f"--sebench-report={target}", *pytest_args]
        done = subprocess.run(argv, cwd=root, capture_output=True, text=True)
        output = done.stdout + done.stderr
        if done.returncode not in _RESULT_STATUSES or not target.is_file():
            raise EvaluationError(_error_line(output, done.returncode))
        return Report(target, _loaded(target, keep=report is not None), done.returncode, output)


def _loaded(path: Path, *, keep: bool) -> RunData:
    """The report's top-level fields; a temporary report's items are read now (it is deleted next)."""
    run = read_run(path)
    if keep:
        return run
    items = list(run.items())
    return RunData(run.source, run.top, lambda: iter(items))


def _error_line(output: str, status: int) -> str:
    errors = [line.removeprefix("ERROR: ") for line in output.splitlines() if line.startswith("ERROR")]
    return errors[0] if errors else f"the run ended with exit status {status} and no report:\n{output[-2000:]}"


@dataclass(frozen=True)
class GateOutcome:
    passed: bool
    failures: list[str]  # why not (items that failed, gates that failed)
    evaluation: Evaluation = field(repr=False)  # every figure of the comparison

    def __bool__(self) -> bool:
        return self.passed


def _run_of(report: Report | str | Path) -> RunData:
    return report.run if isinstance(report, Report) else read_run(Path(report))


def _baseline_of(report: Report | str | Path) -> RunReport:
    run = _run_of(report)
    return run_report_of(run.source, dict(run.provenance), enumerate(run.items()))


def compare(base: Report | str | Path, new: Report | str | Path, *, max_drop: float | None = None,
            fail_under: float | Mapping[str, float] | None = None, alpha: float = 0.05,
            regressions: str = "fail", force: bool = False) -> GateOutcome:
    """``new`` against ``base`` with the plugin's gates: what ``pytest --sebench-baseline`` concludes."""
    if regressions not in ("fail", "report"):
        raise ValueError(f"regressions must be 'fail' or 'report', not {regressions!r}")
    bars = parsers.accuracy_bars(_flag_value("fail_under", fail_under)) if fail_under is not None else None
    evaluation = judge(_baseline_of(base), _run_of(new), GateSettings(bars, max_drop, alpha),
                       regressions_fail=regressions == "fail", force=force)
    failures = gate_failures(evaluation)
    return GateOutcome(not failures, failures, evaluation)
