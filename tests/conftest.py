"""Shared test fixtures: where the real SE-Bench data and our own fixture benchmark live."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
FIXTURE_DATA = REPO / "fixtures" / "qel"


def shared_data_dir() -> Path:
    """``../shared/sebench`` beside the checkout, or ``$SEBENCH_SHARED_DATA``."""
    override = os.environ.get("SEBENCH_SHARED_DATA")
    return Path(override) if override else REPO.parent / "shared" / "sebench"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "single_test.jsonl").is_file():
        pytest.skip(f"real SE-Bench data not found at {path} (set SEBENCH_SHARED_DATA, or place the "
                    "shared/ folder beside the checkout)")
    return path


@pytest.fixture(scope="session")
def fixture_data() -> Path:
    return FIXTURE_DATA


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path
