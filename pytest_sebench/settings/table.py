"""The option table: every ``--sebench-*`` option is a field of :class:`Settings`.

Each field is one option: its type is the type of the resolved value, its metadata the help text, the
parser and how it is shown. ``--sebench-x-y`` is also the ini key ``sebench_x_y`` and the environment
variable ``SEBENCH_X_Y``; values are resolved command line → environment → ini file (see
``resolve.py``). This package must stay cheap to import: the plugin loads it in every pytest run of a
repository that has the plugin installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping

from . import parsers as p

DEFAULT_HUB_DATASET = "jintailin/SE-Bench"
DEFAULT_SPLITS = ("single_test", "multiple_test")
REFERENCE_MODEL = "reference"
DEFAULT_BASE_URL = "http://localhost:8000/v1"
# Conventional variables, read after ours (an explicit SEBENCH_* wins): the openai SDK's, and the file
# GitHub Actions shows on the run's page (a job summary), which a gate in CI appends to by itself.
FALLBACK_ENV = {"base_url": "OPENAI_BASE_URL", "api_key": "OPENAI_API_KEY", "step_summary": "GITHUB_STEP_SUMMARY"}


def _option(help: str, parse: Callable[[str], Any], default: Any = None, metavar: str = "VALUE", *,
            flag_only: bool = False, secret: bool = False) -> Any:
    """A field of :class:`Settings` that is also a row of the option table."""
    return field(default=default, repr=not secret,
                 metadata={"option": {"help": help, "parse": parse, "metavar": metavar, "flag_only": flag_only,
                                    "secret": secret}})


@dataclass(frozen=True)
class Settings:
    """The resolved values, one typed attribute per option, plus where each came from (for messages)."""

    model: str | None = _option(
        "model to evaluate: 'reference' (built in: translates each problem's NumPy reference) or a served "
        "model's name; turns the SE-Bench items on", p.text, metavar="NAME")
    data: str = _option(
        f"problems: a hub dataset id (default {DEFAULT_HUB_DATASET}), a checkout of the SE-Bench "
        "repository, or a folder of JSONL files", p.text, DEFAULT_HUB_DATASET, "SOURCE")
    docs: str | None = _option("api_doc JSONL (library names and docs) when the data source has none",
                               p.text, metavar="PATH")
    split: tuple[str, ...] = _option("comma list of splits to run (single_test, multiple_test, train)",
                                     p.split_list, DEFAULT_SPLITS, "LIST")
    rollouts: str | None = _option("grade an existing rollout file (reference format), one item per line, "
                                   "without asking a model", p.text, metavar="FILE")
    timeout: float = _option("wall-clock seconds per answer in the sandbox", p.positive_number, 10.0,
                             "SECONDS")
    memory: int = _option("memory limit per answer in the sandbox (e.g. 2GiB)",
                          p.at_least(256 * 1024**2, "a memory limit"), 2 * 1024**3, "SIZE")
    output_limit: int = _option("cap on what one answer may print or return (e.g. 1MiB)",
                                p.at_least(4096, "an output limit"), 1024**2, "SIZE")
    report: str | None = _option("write a JSON report here at the end of the session", p.text,
                                 metavar="PATH")
    html: str | None = _option("write a self-contained HTML page of the run here at the end of the session "
                               "(with --sebench-baseline, both runs as checkpoints)", p.text, metavar="PATH")
    sandbox: str = _option(
        "where answers run: local (a warm process on this machine), docker (containers of our image), "
        "the URL of a remote sandbox speaking the reference harness's API, or a backend a plugin adds",
        p.sandbox_choice, "local", "local|docker|URL")
    python: str | None = _option("interpreter the local sandbox runs answers with (needs NumPy; default: "
                                 "the one running pytest)", p.text, metavar="PATH")
    # -- asking a served model ------------------------------------------------------------------
    base_url: tuple[str, ...] = _option(
        "OpenAI-compatible endpoint(s), comma separated; they share the load (default: OPENAI_BASE_URL, "
        f"else {DEFAULT_BASE_URL})", p.url_list, (DEFAULT_BASE_URL,), "URL[,URL]")
    api_key: str | None = _option("API key for the endpoints (default: OPENAI_API_KEY); never printed or "
                                  "stored", p.text, metavar="KEY", secret=True)
    model_revision: str | None = _option(
        "checkpoint step or hash: part of the answer cache key, so two checkpoints served under one name "
        "never share answers", p.text, metavar="REV")
    mode: str = _option("closed (the benchmark: no docs), open (docs of the problem's functions) or full "
                        "(all docs)", p.mode_choice, "closed", "MODE")
    prompt: str | None = _option("prompt template file with {query} {example} {signature} {docs} {library}",
                                 p.text, metavar="FILE")
    samples: int = _option("answers per problem (K)", p.count(1), 1, "K")
    temperature: float = _option("sampling temperature", p.temperature, 0.6, "T")
    max_tokens: int = _option("completion token limit", p.count(1), 8192, "N")
    concurrency: int = _option(
        "most requests in flight for the whole run (all xdist workers together); the run starts with one "
        "and adapts to what the server sustains", p.count(1), 32, "C")
    request_timeout: float = _option(
        "seconds a request may wait with no answer from its endpoint before it is abandoned and retried "
        "(time queued behind our own earlier requests does not count)", p.positive_number, 600.0, "SECONDS")
    retries: int = _option("retries per request after a rate limit, server error, timeout, dropped "
                           "connection or malformed body", p.count(0), 5, "N")
    backoff: float = _option("first retry delay in seconds; doubles each retry, with jitter",
                             p.positive_number, 1.0, "SECONDS")
    cache: str | None = _option("answer cache folder, or 'off' (default: inside pytest's cache; "
                                "--cache-clear empties it)", p.text, metavar="DIR|off")
    progress: str = _option(
        "progress of the model requests: auto (a live display on a terminal, a line every "
        "--sebench-progress-interval seconds in logs and under CI), live, lines, off; 'on' is live",
        p.progress_choice, "auto", "auto|live|lines|off")
    progress_interval: float = _option("seconds between two progress lines where there is no live display",
                                       p.positive_number, 30.0, "SECONDS")
    report_responses: str = _option(
        "which samples keep the model's raw response (and reasoning) in the JSON report: all, failed "
        "(not correct), none", p.choice("all", "failed", "none"), "all", "all|failed|none")
    # -- gating a checkpoint ---------------------------------------------------------------------
    baseline: str | None = _option("report of an earlier run to compare with: an item solved there and "
                                   "not now is a regression", p.text, metavar="REPORT")
    baseline_force: bool = _option("compare with a baseline even if its data, mode or prompt differ",
                                   p.boolean, False, flag_only=True)
    alpha: float = _option("significance level of the per-item and aggregate tests", p.alpha, 0.05, "ALPHA")
    regressions: str = _option(
        "fail: a regression fails its item; report: it is listed (xfail) and the aggregate gates decide "
        "the exit status", p.choice("fail", "report"), "fail", "fail|report")
    only_solved_by: str | None = _option("run only the items solved in this report (e.g. a "
                                         "reference-model run)", p.text, metavar="REPORT")
    fail_under: Mapping[str, float] | None = _option(
        "fail the run when mean@k is below ACC (0-1), for every split or per split", p.accuracy_bars,
        metavar="ACC|SPLIT:ACC,...")
    max_drop: float | None = _option("fail the run when accuracy fell by more than POINTS (0-100) against "
                                     "the baseline and a paired test says the drop is real", p.points,
                                     metavar="POINTS")
    save_correct: str | None = _option("write the solved answers here (reference rollout format plus the "
                                       "closed-book prompt), ready for SFT", p.text, metavar="FILE")
    step_summary: str | None = _option(
        "append the run's Markdown summary to this file at the end of the session (default: "
        "GITHUB_STEP_SUMMARY, which GitHub Actions sets; -o sebench_step_summary= turns it off)", p.text,
        metavar="PATH")
    markdown: str | None = _option("write the run's Markdown summary here at the end of the session (a CI "
                                   "page's text: figures, gates, regressions, verdict)", p.text, metavar="PATH")
    limit: int | None = _option("run a stable random subset of N problems per split (a quick look at a "
                                "checkpoint); the report records it", p.count(1), metavar="N")
    seed: int = _option("which subset --sebench-limit takes (the same seed, the same problems)", p.count(0),
                        0, "SEED")
    # -- not options: where each value came from -----------------------------------------------------
    sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    explicit: frozenset[str] = frozenset()  # options the user set (not defaults)

    def source_of(self, name: str) -> str:
        return self.sources.get(name, "the default")

    @property
    def active(self) -> bool:
        return self.model is not None or self.rollouts is not None

    @property
    def served(self) -> bool:
        """A model behind an OpenAI-compatible server (not the reference model, not a rollout file)."""
        return self.model is not None and self.model != REFERENCE_MODEL


@dataclass(frozen=True)
class Option:
    """A row of the option table, read from a field of :class:`Settings`."""

    key: str  # the attribute of Settings
    help: str
    parse: Callable[[str], Any]
    default: Any
    metavar: str
    flag_only: bool  # a switch on the command line (--x), true/false in env and ini
    secret: bool  # never shown, not even in a message about a bad value

    @property
    def name(self) -> str:  # the part after --sebench-
        return self.key.replace("_", "-")

    @property
    def flag(self) -> str:
        return f"--sebench-{self.name}"

    @property
    def ini_key(self) -> str:
        return f"sebench_{self.key}"

    @property
    def env_var(self) -> str:
        return f"SEBENCH_{self.key.upper()}"

    @property
    def dest(self) -> str:
        return self.ini_key


OPTIONS: tuple[Option, ...] = tuple(
    Option(key=f.name, default=f.default, **f.metadata["option"]) for f in fields(Settings) if "option" in f.metadata)
OPTION_BY_KEY: dict[str, Option] = {option.key: option for option in OPTIONS}
