"""Configuration: every --sebench-* option from the command line, the environment or the ini file.

Resolution, precedence and the messages for bad values are unit-tested on a stand-in config (every
option, every source); real runs of the plugin in a subprocess check a sample end to end: the report
header shows which value won, and a bad value ends the run with exit code 4 and one ERROR line naming
the option and where the value came from.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from pytest_sebench import settings
from pytest_sebench.settings import OPTIONS, SettingError, parsers, resolve

USAGE_ERROR = pytest.ExitCode.USAGE_ERROR

# A valid raw value for every option, and what it resolves to.
VALID: dict[str, tuple[str, Any]] = {
    "model": ("reference", "reference"),
    "data": ("some/folder", "some/folder"),
    "docs": ("docs/api_doc.jsonl", "docs/api_doc.jsonl"),
    "split": ("train, single_test", ("train", "single_test")),
    "rollouts": ("rollouts.jsonl", "rollouts.jsonl"),
    "timeout": ("2.5", 2.5),
    "memory": ("512MiB", 512 * 1024**2),
    "output-limit": ("64k", 64 * 1024),
    "report": ("out/report.json", "out/report.json"),
    "python": ("/usr/bin/python3", "/usr/bin/python3"),
    "base-url": ("http://gpu1:8000/v1, http://gpu1:8001/v1/", ("http://gpu1:8000/v1", "http://gpu1:8001/v1")),
    "api-key": ("sk-test", "sk-test"),
    "model-revision": ("step-1200", "step-1200"),
    "mode": ("open", "open"),
    "prompt": ("prompts/paper.txt", "prompts/paper.txt"),
    "samples": ("5", 5),
    "temperature": ("0", 0.0),
    "max-tokens": ("1024", 1024),
    "concurrency": ("64", 64),
    "request-timeout": ("30", 30.0),
    "retries": ("0", 0),
    "backoff": ("0.5", 0.5),
    "cache": ("off", "off"),
    "sandbox": ("docker", "docker"),
    "progress": ("on", "live"),
    "progress-interval": ("5", 5.0),
    "report-responses": ("failed", "failed"),
    "baseline": ("last.json", "last.json"),
    "baseline-force": ("yes", True),
    "alpha": ("0.01", 0.01),
    "regressions": ("report", "report"),
    "only-solved-by": ("reference.json", "reference.json"),
    "fail-under": ("single_test:0.5, multiple_test:0.25", {"single_test": 0.5, "multiple_test": 0.25}),
    "max-drop": ("5", 5.0),
    "save-correct": ("sft.jsonl", "sft.jsonl"),
    "limit": ("20", 20),
    "seed": ("7", 7),
}


@pytest.fixture(autouse=True)
def no_sebench_environment(monkeypatch):
    """The outer environment must not leak into the runs under test."""
    for option in OPTIONS:
        monkeypatch.delenv(option.env_var, raising=False)
    for name in settings.FALLBACK_ENV.values():
        monkeypatch.delenv(name, raising=False)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", *args)


def assert_usage_error(result: pytest.RunResult, *fragments: str) -> str:
    """Exit code 4, exactly one ERROR line holding every fragment, no traceback; returns the line."""
    assert result.ret == USAGE_ERROR, result.stdout.str() + result.stderr.str()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr.str()
    for fragment in fragments:
        assert fragment in errors[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "SE-Bench summary" not in result.stdout.str()  # nothing was graded
    return errors[0]


def write_ini(pytester: pytest.Pytester, **keys: str) -> Path:
    body = "".join(f"{key} = {value}\n" for key, value in keys.items())
    return pytester.makefile(".ini", pytest="[pytest]\n" + body)


# -- resolution, on a stand-in config ---------------------------------------------------------------


class FakeConfig:
    """What resolve() reads from a pytest.Config: getoption, getini and inipath."""

    def __init__(self, cli: dict[str, str] | None = None, ini: dict[str, str] | None = None) -> None:
        self.cli = cli or {}
        self.ini = ini or {}
        self.inipath = Path("/project/pytest.ini")

    def getoption(self, dest: str) -> str | None:
        return self.cli.get(dest)

    def getini(self, key: str) -> str:
        return self.ini.get(key, "")


NEEDS = {"max-drop": {"sebench_baseline": "last.json"}}  # options that only make sense with another


def valid_value(option: settings.Option) -> tuple[str, Any]:
    if option.name in VALID:
        return VALID[option.name]
    return "some-value", option.parse("some-value")  # free text; other parsers need a VALID entry


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.name)
def test_valid_table_covers_every_option(option):
    assert option.name in VALID or option.parse is parsers.text, (
        f"add a valid value for {option.flag} to VALID")


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.name)
def test_option_names_follow_one_rule(option):
    assert option.flag == f"--sebench-{option.name}"
    assert option.ini_key == "sebench_" + option.name.replace("-", "_")
    assert option.env_var == "SEBENCH_" + option.name.replace("-", "_").upper()


@pytest.mark.parametrize("where", ["cli", "env", "ini"])
@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.name)
def test_every_option_is_read_from_every_source(option, where, monkeypatch):
    raw, expected = valid_value(option)
    config = FakeConfig(cli={option.dest: raw} if where == "cli" else None,
                        ini={option.ini_key: raw} if where == "ini" else None)
    config.cli.update(NEEDS.get(option.name, {}))
    if where == "env":
        monkeypatch.setenv(option.env_var, raw)
    resolved = resolve(config)  # type: ignore[arg-type]
    key = option.key
    assert getattr(resolved, key) == expected
    assert key in resolved.explicit
    source = resolved.source_of(key)
    assert {"cli": "command line", "env": option.env_var, "ini": option.ini_key}[where] in source
    if where == "ini":
        assert "/project/pytest.ini" in source


def test_defaults_when_nothing_is_set():
    resolved = resolve(FakeConfig())  # type: ignore[arg-type]
    assert not resolved.active and not resolved.explicit
    assert resolved.data == settings.DEFAULT_HUB_DATASET
    assert resolved.split == settings.DEFAULT_SPLITS
    assert resolved.timeout == 10.0 and resolved.memory == 2 * 1024**3
    assert resolved.source_of("timeout") == "the default"


def test_empty_environment_variable_counts_as_unset(monkeypatch):
    monkeypatch.setenv("SEBENCH_TIMEOUT", "")
    resolved = resolve(FakeConfig(ini={"sebench_timeout": "7"}))  # type: ignore[arg-type]
    assert resolved.timeout == 7.0


@pytest.mark.parametrize("raw, expected", [
    ("2GiB", 2 * 1024**3), ("2 gb", 2 * 1024**3), ("512MiB", 512 * 1024**2), ("512m", 512 * 1024**2),
    ("1048576", 1048576), ("1.5k", 1536), ("10B", 10), ("1", 1)])
def test_byte_sizes(raw, expected):
    assert parsers.byte_size(raw) == expected


@pytest.mark.parametrize("raw", ["", "gib", "2XB", "2 TiB", "-1GiB", "0", "0.1", "nan", "inf", "1e400",
                                 "1e400GiB", "1e300GiB"])
def test_bad_byte_sizes(raw):
    with pytest.raises(SettingError):
        parsers.byte_size(raw)


@pytest.mark.parametrize("raw", ["abc", "", "-1", "0", "-0", "inf", "-inf", "nan", "1e400"])
def test_bad_timeouts(raw):
    with pytest.raises(SettingError):
        parsers.positive_number(raw)


def test_timeout_accepts_fractions():
    assert math.isclose(parsers.positive_number(" 0.25 "), 0.25)


def test_split_list_strips_and_drops_repeats():
    assert parsers.split_list(" train , train,single_test,") == ("train", "single_test")


# -- help text -------------------------------------------------------------------------------------


def test_help_names_env_var_and_ini_key_of_every_option(pytester):
    result = run(pytester, "--help")
    assert result.ret == 0
    text = result.stdout.str()
    for option in OPTIONS:
        assert option.flag in text and option.env_var in text
        result.stdout.fnmatch_lines([f"*{option.ini_key} *"])  # listed among the ini keys


# -- precedence -------------------------------------------------------------------------------------

PRECEDENCE = [  # command line, environment, ini -> the value that wins
    (None, None, "7", "7"),
    (None, "5", "7", "5"),
    ("3", "5", "7", "3"),
    ("3", None, "7", "3"),
    ("3", "5", None, "3"),
    (None, "0.5", None, "0.5"),
]


@pytest.mark.parametrize("cli, env, ini, shown", PRECEDENCE)
def test_precedence(monkeypatch, cli, env, ini, shown):
    if env is not None:
        monkeypatch.setenv("SEBENCH_TIMEOUT", env)
    config = FakeConfig(cli={"sebench_timeout": cli} if cli else None,
                        ini={"sebench_timeout": ini} if ini else None)
    assert resolve(config).timeout == float(shown)  # type: ignore[arg-type]


@pytest.mark.parametrize("cli, env, ini, shown", PRECEDENCE[:3])
def test_timeout_precedence_in_header(pytester, fixture_data, monkeypatch, cli, env, ini, shown):
    if ini is not None:
        write_ini(pytester, sebench_timeout=ini)
    if env is not None:
        monkeypatch.setenv("SEBENCH_TIMEOUT", env)
    args = [f"--sebench-timeout={cli}"] if cli is not None else []
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}", "--co", *args)
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines([f"sebench: model=reference *problems=49 * timeout={shown}s"])


@pytest.mark.parametrize("cli, env, ini, problems", [
    (None, "single_test", "multiple_test", 31),
    ("multiple_test", "single_test", "single_test", 18),
])
def test_split_precedence(pytester, fixture_data, monkeypatch, cli, env, ini, problems):
    if ini is not None:
        write_ini(pytester, sebench_split=ini)
    if env is not None:
        monkeypatch.setenv("SEBENCH_SPLIT", env)
    args = [f"--sebench-split={cli}"] if cli is not None else []
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}", "--co", *args)
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines([f"sebench: *problems={problems} *"])


def test_whole_configuration_from_ini(pytester, fixture_data):
    write_ini(pytester, sebench_model="reference", sebench_data=str(fixture_data),
              sebench_split="multiple_test", sebench_timeout="4")
    result = run(pytester, "-k", "0000 or 0001")
    result.assert_outcomes(passed=2, deselected=16)
    result.stdout.fnmatch_lines(["sebench: model=reference *problems=18 * timeout=4s"])


# -- bad values: exit code 4, one line naming the option and where the value came from --------------

BAD_VALUES = [
    ("timeout", "abc", "expected a number"),
    ("timeout", "-1", "positive"),
    ("timeout", "0", "positive"),
    ("timeout", "inf", "finite"),
    ("timeout", "nan", "positive"),
    ("memory", "2XB", "size"),
    ("memory", "0", "positive size"),
    ("memory", "1e400", "size"),
    ("memory", "inf", "size"),
    ("memory", "0.1", "size"),
    ("output-limit", "lots", "size"),
    ("split", "foo", "unknown split foo"),
    ("split", "single_test,validation", "unknown split validation"),
    ("split", ",", "expected a comma list of splits"),
    ("split", "", "expected a comma list of splits"),
    ("alpha", "0", "strictly between 0 and 1"),
    ("alpha", "five", "significance level"),
    ("fail-under", "60", "from 0 to 1"),
    ("fail-under", "validation:0.5", "unknown split 'validation'"),
    ("fail-under", "0.5,0.6", "given twice"),
    ("max-drop", "101", "percentage points"),
    ("regressions", "warn", "expected one of fail, report"),
    ("baseline-force", "maybe", "expected true or false"),
    ("progress", "always", "expected one of auto, live, lines, off, on"),
]
SOURCE_TEXT = {"cli": "(from the command line)", "env": "(from environment variable {env})",
               "ini": "(from ini key {ini} in /project/pytest.ini)"}


# an empty value in the environment or the ini file counts as unset, so "" is bad on the command line only
BAD_FROM = [(where, *bad) for bad in BAD_VALUES for where in ("cli", "env", "ini") if bad[1] or where == "cli"]


@pytest.mark.parametrize("where, name, raw, why", BAD_FROM, ids=[f"{w}-{n}={r}" for w, n, r, _ in BAD_FROM])
def test_bad_value_message(monkeypatch, where, name, raw, why):
    option = next(option for option in OPTIONS if option.name == name)
    if where == "env":
        monkeypatch.setenv(option.env_var, raw)
    config = FakeConfig(cli={option.dest: raw} if where == "cli" else None,
                        ini={option.ini_key: raw} if where == "ini" else None)
    with pytest.raises(pytest.UsageError) as caught:
        resolve(config)  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"invalid value {raw!r} for {option.flag}" in message and why in message
    assert SOURCE_TEXT[where].format(env=option.env_var, ini=option.ini_key) in message


def _set(pytester: pytest.Pytester, monkeypatch, where: str, name: str, raw: str) -> tuple[list[str], str]:
    """Put the value where asked; returns the extra arguments and the source the message must name."""
    option = next(option for option in OPTIONS if option.name == name)
    if where == "cli":
        return [f"{option.flag}={raw}"], "from the command line"
    if where == "env":
        monkeypatch.setenv(option.env_var, raw)
        return [], f"from environment variable {option.env_var}"
    ini = write_ini(pytester, **{option.ini_key: raw})
    return [], f"from ini key {option.ini_key} in {ini}"


@pytest.mark.parametrize("where, name, raw, why", [
    ("cli", "timeout", "abc", "expected a number"),
    ("env", "timeout", "-1", "positive"),
    ("ini", "timeout", "inf", "finite"),
    ("cli", "memory", "1e400", "size"),  # was an OverflowError traceback
    ("env", "memory", "2XB", "size"),
    ("ini", "split", "foo", "unknown split foo"),
    ("cli", "split", "", "expected a comma list"),
])
def test_bad_value_is_a_usage_error(pytester, fixture_data, monkeypatch, where, name, raw, why):
    args, source = _set(pytester, monkeypatch, where, name, raw)
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}", *args)
    assert_usage_error(result, f"--sebench-{name}", repr(raw), source, why)


def test_bad_value_is_reported_even_when_inactive(pytester):
    # the ini file is read in every run; a typo there must not wait until the benchmark is switched on
    write_ini(pytester, sebench_timeout="soon")
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    assert_usage_error(run(pytester), "--sebench-timeout", "from ini key sebench_timeout")


def test_openai_variables_are_the_fallback(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://from-openai:1/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    resolved = resolve(FakeConfig())  # type: ignore[arg-type]
    assert resolved.base_url == ("http://from-openai:1/v1",) and resolved.api_key == "sk-openai"
    assert resolved.source_of("api_key") == "environment variable OPENAI_API_KEY"
    monkeypatch.setenv("SEBENCH_BASE_URL", "http://ours:2/v1")
    assert resolve(FakeConfig()).base_url == ("http://ours:2/v1",)  # type: ignore[arg-type]
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("SEBENCH_BASE_URL")
    assert resolve(FakeConfig()).base_url == (settings.DEFAULT_BASE_URL,)  # type: ignore[arg-type]


@pytest.mark.parametrize("name, raw", [("base-url", "gpu1:8000"), ("samples", "0"), ("mode", "half"),
                                       ("temperature", "3"), ("retries", "-1"), ("concurrency", "many")])
def test_bad_served_model_settings(name, raw):
    option = next(option for option in OPTIONS if option.name == name)
    with pytest.raises(pytest.UsageError, match=f"invalid value '{raw}' for --sebench-{name}"):
        resolve(FakeConfig(cli={option.dest: raw}))  # type: ignore[arg-type]


def test_max_drop_needs_a_baseline(monkeypatch):
    monkeypatch.setenv("SEBENCH_MAX_DROP", "5")
    with pytest.raises(pytest.UsageError, match=r"--sebench-max-drop .from environment variable "
                                                r"SEBENCH_MAX_DROP.* pass --sebench-baseline"):
        resolve(FakeConfig())  # type: ignore[arg-type]


def test_switch_on_the_command_line(pytester, fixture_data):
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}", "--co",
                 "--sebench-baseline-force", "--sebench-progress=off")
    assert result.ret == 0, result.stderr.str()


def test_model_and_rollouts_exclude_each_other(pytester, fixture_data, monkeypatch):
    rollouts = pytester.path / "rollouts.jsonl"
    rollouts.write_text("", encoding="utf-8")
    monkeypatch.setenv("SEBENCH_ROLLOUTS", str(rollouts))
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}")
    assert_usage_error(result, "--sebench-model (from the command line)",
                       "--sebench-rollouts (from environment variable SEBENCH_ROLLOUTS)", "exclude each other")


def test_a_bad_value_given_with_dash_o_is_blamed_on_dash_o(pytester):
    write_ini(pytester, sebench_timeout="3")
    result = run(pytester, "--sebench-model=reference", "-o", "sebench_timeout=-5")
    assert_usage_error(result, "'-5'", "--sebench-timeout", "-o sebench_timeout on the command line")
    assert "pytest.ini" not in result.stderr.str()
