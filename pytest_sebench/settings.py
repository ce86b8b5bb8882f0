"""Every ``--sebench-*`` option in one table, resolved command line → environment → ini file.

Each option ``--sebench-x-y`` is also the ini key ``sebench_x_y`` and the environment variable
``SEBENCH_X_Y``. A bad value raises ``pytest.UsageError`` naming where it came from, so the user sees
one line instead of a traceback. This module must stay cheap to import: the plugin loads it in every
pytest run of a repository that has the plugin installed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

DEFAULT_HUB_DATASET = "jintailin/SE-Bench"
DEFAULT_SPLITS = ("single_test", "multiple_test")
KNOWN_SPLITS = ("single_test", "multiple_test", "train")
REFERENCE_MODEL = "reference"


class SettingError(ValueError):
    """A value that does not fit its option; the message says what was expected."""


def _text(raw: str) -> str:
    if not raw.strip():
        raise SettingError("expected a non-empty value")
    return raw.strip()


def _positive_number(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingError("expected a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise SettingError("expected a positive, finite number")
    return value


def _count(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingError(f"expected a whole number of at least {minimum}") from None
        if value < minimum:
            raise SettingError(f"expected a whole number of at least {minimum}")
        return value
    return parse


def _number_between(low: float, high: float, what: str) -> Callable[[str], float]:
    """A number in [low, high] (nan and inf are outside); ``what`` names it in the message."""
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise SettingError(f"expected {what} from {low:g} to {high:g}") from None
        if not low <= value <= high:
            raise SettingError(f"expected {what} from {low:g} to {high:g}")
        return value
    return parse


_temperature = _number_between(0, 2, "a number")
_fraction = _number_between(0, 1, "an accuracy")
_points = _number_between(0, 100, "percentage points")


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.strip() not in choices:
            raise SettingError(f"expected one of {', '.join(choices)}")
        return raw.strip()
    return parse


def _progress_choice(raw: str) -> str:
    value = _choice("auto", "live", "lines", "off", "on")(raw)
    return "live" if value == "on" else value  # "on" was the first name of "live"


def _sandbox_choice(raw: str) -> str:
    value = raw.strip()
    if value in ("local", "docker") or value.startswith(("http://", "https://")):
        return value
    raise SettingError("expected local, docker, or an http(s):// URL of a remote sandbox")


def _url_list(raw: str) -> tuple[str, ...]:
    urls = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    bad = [url for url in urls if not url.startswith(("http://", "https://"))]
    if not urls or bad:
        raise SettingError("expected one or more http(s):// base URLs, comma separated "
                           "(e.g. http://gpu1:8000/v1)")
    return urls


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
               "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3}


def _byte_size(raw: str) -> int:
    text = raw.strip().lower().replace(" ", "")
    digits = text.rstrip("abgikm")
    unit = text[len(digits):]
    try:
        number = float(digits)
    except ValueError:
        raise SettingError("expected a size such as 2GiB, 512MiB or 1048576") from None
    size = number * _SIZE_UNITS.get(unit, 0)
    # nan and inf (also 1e400, or 1e300GiB) parse as floats but are no size: int() of them raises;
    # a fraction of a byte would truncate to a limit of 0
    if unit not in _SIZE_UNITS or not 1 <= size < float("inf"):
        raise SettingError("expected a positive size such as 2GiB, 512MiB or 1048576")
    return int(size)


def _at_least(minimum: int, label: str) -> Callable[[str], int]:
    """A byte size with a floor: below it every answer would fail for our setup, not the model."""
    def parse(raw: str) -> int:
        size = _byte_size(raw)
        if size < minimum:
            raise SettingError(f"{label} below {minimum // 1024} KiB would fail every answer; "
                               f"expected at least {minimum // 1024} KiB")
        return size
    return parse


def _boolean(raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingError("expected true or false (also 1/0, yes/no, on/off)")


def _alpha(raw: str) -> float:
    value = _number_between(0, 1, "a significance level")(raw)
    if not 0 < value < 1:
        raise SettingError("expected a significance level strictly between 0 and 1, e.g. 0.05")
    return value


ALL_SPLITS = "*"  # the key of a --sebench-fail-under bar that applies to every split


def _accuracy_bars(raw: str) -> dict[str, float]:
    """``0.6`` (every split) or ``single_test:0.5,multiple_test:0.2``."""
    bars: dict[str, float] = {}
    for part in (part.strip() for part in raw.split(",")):
        if not part:
            continue
        split, colon, value = part.rpartition(":")
        split = split.strip() if colon else ALL_SPLITS
        if colon and split not in KNOWN_SPLITS + ("rollouts", "overall"):
            raise SettingError(f"unknown split {split!r}; known splits: "
                               f"{', '.join(KNOWN_SPLITS + ('rollouts', 'overall'))}")
        if split in bars:
            raise SettingError(f"{'every split' if split == ALL_SPLITS else split} is given twice")
        bars[split] = _fraction(value.strip())
    if not bars:
        raise SettingError("expected an accuracy from 0 to 1, or SPLIT:ACC pairs such as single_test:0.5")
    return bars


def _split_list(raw: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not names:
        raise SettingError(f"expected a comma list of splits from {', '.join(KNOWN_SPLITS)}")
    unknown = [name for name in names if name not in KNOWN_SPLITS]
    if unknown:
        raise SettingError(f"unknown split {', '.join(unknown)}; known splits: {', '.join(KNOWN_SPLITS)}")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Option:
    name: str  # the part after --sebench-
    help: str
    parse: Callable[[str], Any]
    default: Any = None
    metavar: str = "VALUE"
    flag_only: bool = False  # a switch on the command line (--x), true/false in env and ini

    @property
    def flag(self) -> str:
        return f"--sebench-{self.name}"

    @property
    def ini_key(self) -> str:
        return "sebench_" + self.name.replace("-", "_")

    @property
    def env_var(self) -> str:
        return "SEBENCH_" + self.name.replace("-", "_").upper()

    @property
    def dest(self) -> str:
        return self.ini_key


OPTIONS: tuple[Option, ...] = (
    Option("model", "model to evaluate: 'reference' (built in: translates each problem's NumPy "
           "reference) or a served model's name; turns the SE-Bench items on", _text, metavar="NAME"),
    Option("data", f"problems: a hub dataset id (default {DEFAULT_HUB_DATASET}), a checkout of the "
           "SE-Bench repository, or a folder of JSONL files", _text, DEFAULT_HUB_DATASET, "SOURCE"),
    Option("docs", "api_doc JSONL (library names and docs) when the data source has none", _text,
           metavar="PATH"),
    Option("split", "comma list of splits to run (single_test, multiple_test, train)", _split_list,
           DEFAULT_SPLITS, "LIST"),
    Option("rollouts", "grade an existing rollout file (reference format), one item per line, "
           "without asking a model", _text, metavar="FILE"),
    Option("timeout", "wall-clock seconds per answer in the sandbox", _positive_number, 10.0,
           "SECONDS"),
    Option("memory", "memory limit per answer in the sandbox (e.g. 2GiB)",
           _at_least(256 * 1024**2, "a memory limit"), 2 * 1024**3,
           "SIZE"),
    Option("output-limit", "cap on what one answer may print or return (e.g. 1MiB)",
           _at_least(4096, "an output limit"),
           1024**2, "SIZE"),
    Option("report", "write a JSON report here at the end of the session", _text, metavar="PATH"),
    Option("sandbox", "where answers run: local (a warm process on this machine), docker (containers "
           "of our image), or the URL of a remote sandbox speaking the reference harness's API",
           _sandbox_choice, "local", "local|docker|URL"),
    Option("python", "interpreter the local sandbox runs answers with (needs NumPy; default: the one "
           "running pytest)", _text, metavar="PATH"),
    # -- asking a served model ------------------------------------------------------------------
    Option("base-url", "OpenAI-compatible endpoint(s), comma separated; they share the load "
           "(default: OPENAI_BASE_URL, else http://localhost:8000/v1)", _url_list, metavar="URL[,URL]"),
    Option("api-key", "API key for the endpoints (default: OPENAI_API_KEY); never printed or stored",
           _text, metavar="KEY"),
    Option("model-revision", "checkpoint step or hash: part of the answer cache key, so two "
           "checkpoints served under one name never share answers", _text, metavar="REV"),
    Option("mode", "closed (the benchmark: no docs), open (docs of the problem's functions) or full "
           "(all docs)", _choice("closed", "open", "full"), "closed", "MODE"),
    Option("prompt", "prompt template file with {query} {example} {signature} {docs} {library}",
           _text, metavar="FILE"),
    Option("samples", "answers per problem (K)", _count(1), 1, "K"),
    Option("temperature", "sampling temperature", _temperature, 0.6, "T"),
    Option("max-tokens", "completion token limit", _count(1), 8192, "N"),
    Option("concurrency", "most requests in flight for the whole run (all xdist workers together); "
           "the run starts with one and adapts to what the server sustains",
           _count(1), 32, "C"),
    Option("request-timeout", "seconds a request may wait with no answer from its endpoint before it "
           "is abandoned and retried (time queued behind our own earlier requests does not count)",
           _positive_number, 600.0, "SECONDS"),
    Option("retries", "retries per request after a rate limit, server error, timeout, dropped "
           "connection or malformed body", _count(0), 5, "N"),
    Option("backoff", "first retry delay in seconds; doubles each retry, with jitter",
           _positive_number, 1.0, "SECONDS"),
    Option("cache", "answer cache folder, or 'off' (default: inside pytest's cache; --cache-clear "
           "empties it)", _text, metavar="DIR|off"),
    Option("progress", "progress of the model requests: auto (a live display on a terminal, a line "
           "every --sebench-progress-interval seconds in logs and under CI), live, lines, off; "
           "'on' is live", _progress_choice, "auto", "auto|live|lines|off"),
    Option("progress-interval", "seconds between two progress lines where there is no live display",
           _positive_number, 30.0, "SECONDS"),
    Option("report-responses", "which samples keep the model's raw response (and reasoning) in the "
           "JSON report: all, failed (not correct), none", _choice("all", "failed", "none"), "all",
           "all|failed|none"),
    # -- gating a checkpoint ---------------------------------------------------------------------
    Option("baseline", "report of an earlier run to compare with: an item solved there and not now "
           "is a regression", _text, metavar="REPORT"),
    Option("baseline-force", "compare with a baseline even if its data, mode or prompt differ",
           _boolean, False, flag_only=True),
    Option("alpha", "significance level of the per-item and aggregate tests", _alpha, 0.05, "ALPHA"),
    Option("regressions", "fail: a regression fails its item; report: it is listed (xfail) and the "
           "aggregate gates decide the exit status", _choice("fail", "report"), "fail", "fail|report"),
    Option("only-solved-by", "run only the items solved in this report (e.g. a reference-model run)",
           _text, metavar="REPORT"),
    Option("fail-under", "fail the run when mean@k is below ACC (0-1), for every split or per split",
           _accuracy_bars, metavar="ACC|SPLIT:ACC,..."),
    Option("max-drop", "fail the run when accuracy fell by more than POINTS (0-100) against the "
           "baseline and a paired test says the drop is real", _points, metavar="POINTS"),
    Option("save-correct", "write the solved answers here (reference rollout format plus the "
           "closed-book prompt), ready for SFT", _text, metavar="FILE"),
    Option("limit", "run a stable random subset of N problems per split (a quick look at a checkpoint); "
           "the report records it", _count(1), metavar="N"),
    Option("seed", "which subset --sebench-limit takes (the same seed, the same problems)", _count(0), 0,
           "SEED"),
)

# Conventional variables of the openai SDK, read after ours (an explicit SEBENCH_* wins).
FALLBACK_ENV = {"base_url": "OPENAI_BASE_URL", "api_key": "OPENAI_API_KEY"}
DEFAULT_BASE_URL = "http://localhost:8000/v1"


@dataclass(frozen=True)
class Settings:
    """The resolved values, plus where each came from (for messages)."""

    values: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    explicit: frozenset[str] = frozenset()  # options the user set (not defaults)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def source_of(self, name: str) -> str:
        return self.sources.get(name, "the default")

    @property
    def active(self) -> bool:
        return self.values["model"] is not None or self.values["rollouts"] is not None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("sebench", "SE-Bench: grade a model's use of a library it has internalized")
    for option in OPTIONS:
        where = f"(env {option.env_var}, ini {option.ini_key})"
        if option.flag_only:
            group.addoption(option.flag, dest=option.dest, default=None, action="store_const",
                            const="true", help=f"{option.help} {where}")
        else:
            group.addoption(option.flag, dest=option.dest, default=None, metavar=option.metavar,
                            help=f"{option.help} {where}")
        parser.addini(option.ini_key, option.help, default=None)


def _raw_value(config: pytest.Config, option: Option) -> tuple[str | None, str]:
    cli = config.getoption(option.dest)
    if cli is not None:
        # the messages already name the option; say where the value came from
        return str(cli), "the command line"
    env = os.environ.get(option.env_var)
    if env is not None and env != "":
        return env, f"environment variable {option.env_var}"
    for override in reversed(config.getoption("override_ini") or ()):  # the last -o KEY=VALUE wins
        key, _, value = str(override).partition("=")
        if key.strip() == option.ini_key:
            return (value, f"-o {option.ini_key} on the command line") if value.strip() else (None, "the default")
    ini = config.getini(option.ini_key)
    if ini not in (None, "", []):
        return str(ini), f"ini key {option.ini_key} in {config.inipath}"
    return None, "the default"


def resolve(config: pytest.Config) -> Settings:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    explicit: set[str] = set()
    for option in OPTIONS:
        key = option.name.replace("-", "_")
        raw, source = _raw_value(config, option)
        if raw is None and os.environ.get(FALLBACK_ENV.get(key, "")):
            raw, source = os.environ[FALLBACK_ENV[key]], f"environment variable {FALLBACK_ENV[key]}"
        if raw is None:
            values[key] = option.default
            continue
        try:
            values[key] = option.parse(raw)
        except SettingError as error:
            shown = "(hidden)" if option.name == "api-key" else repr(raw)
            raise pytest.UsageError(f"invalid value {shown} for {option.flag} (from {source}): {error}")
        sources[key] = source
        explicit.add(key)
    if values["base_url"] is None:
        values["base_url"] = (DEFAULT_BASE_URL,)
    settings = Settings(values, sources, frozenset(explicit))
    _check_combinations(settings)
    return settings


def _check_combinations(settings: Settings) -> None:
    if settings["max_drop"] is not None and settings["baseline"] is None:
        raise pytest.UsageError(
            f"--sebench-max-drop (from {settings.source_of('max_drop')}) compares with a baseline: "
            "pass --sebench-baseline=REPORT too")
    if settings["model"] is not None and settings["rollouts"] is not None:
        raise pytest.UsageError(
            f"--sebench-model (from {settings.source_of('model')}) and --sebench-rollouts (from "
            f"{settings.source_of('rollouts')}) exclude each other: a rollout file already holds the "
            "answers; pass one of them")


