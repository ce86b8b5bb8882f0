"""Parsers of option values: each takes the raw text and returns the typed value, or raises
:class:`SettingError` saying what was expected (the caller adds which option and where it came from)."""

from __future__ import annotations

from typing import Callable

KNOWN_SPLITS = ("single_test", "multiple_test", "train")


class SettingError(ValueError):
    """A value that does not fit its option; the message says what was expected."""


def text(raw: str) -> str:
    if not raw.strip():
        raise SettingError("expected a non-empty value")
    return raw.strip()


def positive_number(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingError("expected a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise SettingError("expected a positive, finite number")
    return value


def count(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingError(f"expected a whole number of at least {minimum}") from None
        if value < minimum:
            raise SettingError(f"expected a whole number of at least {minimum}")
        return value
    return parse


def number_between(low: float, high: float, what: str) -> Callable[[str], float]:
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


temperature = number_between(0, 2, "a number")
fraction = number_between(0, 1, "an accuracy")
points = number_between(0, 100, "percentage points")


def choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.strip() not in choices:
            raise SettingError(f"expected one of {', '.join(choices)}")
        return raw.strip()
    return parse


def progress_choice(raw: str) -> str:
    value = choice("auto", "live", "lines", "off", "on")(raw)
    return "live" if value == "on" else value  # "on" was the first name of "live"


def sandbox_choice(raw: str) -> str:
    """A value some registered sandbox backend takes (the registry is read only when one is given)."""
    from ..execution.registry import backend_for, expected_choices

    value = raw.strip()
    if backend_for(value) is None:
        raise SettingError(f"expected {expected_choices()}")
    return value


def mode_choice(raw: str) -> str:
    """A prompt mode that prompt/templates.py builds (read only when one is given)."""
    from ..prompt.templates import MODES

    return choice(*MODES)(raw)


def url_list(raw: str) -> tuple[str, ...]:
    urls = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    bad = [url for url in urls if not url.startswith(("http://", "https://"))]
    if not urls or bad:
        raise SettingError("expected one or more http(s):// base URLs, comma separated "
                           "(e.g. http://gpu1:8000/v1)")
    return urls


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
               "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3}


def byte_size(raw: str) -> int:
    cleaned = raw.strip().lower().replace(" ", "")
    digits = cleaned.rstrip("abgikm")
    unit = cleaned[len(digits):]
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


def at_least(minimum: int, label: str) -> Callable[[str], int]:
    """A byte size with a floor: below it every answer would fail for our setup, not the model."""
    def parse(raw: str) -> int:
        size = byte_size(raw)
        if size < minimum:
            raise SettingError(f"{label} below {minimum // 1024} KiB would fail every answer; "
                               f"expected at least {minimum // 1024} KiB")
        return size
    return parse


def boolean(raw: str) -> bool:
    word = raw.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise SettingError("expected true or false (also 1/0, yes/no, on/off)")


def alpha(raw: str) -> float:
    value = number_between(0, 1, "a significance level")(raw)
    if not 0 < value < 1:
        raise SettingError("expected a significance level strictly between 0 and 1, e.g. 0.05")
    return value


ALL_SPLITS = "*"  # the key of a --sebench-fail-under bar that applies to every split


def accuracy_bars(raw: str) -> dict[str, float]:
    """``0.6`` (every split) or ``single_test:0.5,multiple_test:0.2``."""
    bars: dict[str, float] = {}
    for part in (part.strip() for part in raw.split(",")):
        if not part:
            continue
        split, colon, value = part.rpartition(":")
        split = split.strip() if colon else ALL_SPLITS
        if colon and split not in (*KNOWN_SPLITS, "rollouts", "overall"):
            raise SettingError(f"unknown split {split!r}; known splits: "
                               f"{', '.join((*KNOWN_SPLITS, 'rollouts', 'overall'))}")
        if split in bars:
            raise SettingError(f"{'every split' if split == ALL_SPLITS else split} is given twice")
        bars[split] = fraction(value.strip())
    if not bars:
        raise SettingError("expected an accuracy from 0 to 1, or SPLIT:ACC pairs such as single_test:0.5")
    return bars


def split_list(raw: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not names:
        raise SettingError(f"expected a comma list of splits from {', '.join(KNOWN_SPLITS)}")
    unknown = [name for name in names if name not in KNOWN_SPLITS]
    if unknown:
        raise SettingError(f"unknown split {', '.join(unknown)}; known splits: {', '.join(KNOWN_SPLITS)}")
    return tuple(dict.fromkeys(names))
