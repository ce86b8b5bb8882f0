"""The plugin's settings: the option table (``table.py``), value parsers, and their resolution.

Cheap to import: the plugin loads it in every pytest run of a repository that has it installed.
"""

from .parsers import ALL_SPLITS, KNOWN_SPLITS, SettingError
from .resolve import add_options, resolve
from .table import (DEFAULT_BASE_URL, DEFAULT_HUB_DATASET, DEFAULT_SPLITS, FALLBACK_ENV, OPTION_BY_KEY,
                    OPTIONS, REFERENCE_MODEL, Option, Settings)

__all__ = ["ALL_SPLITS", "DEFAULT_BASE_URL", "DEFAULT_HUB_DATASET", "DEFAULT_SPLITS", "FALLBACK_ENV",
           "KNOWN_SPLITS", "OPTIONS", "OPTION_BY_KEY", "Option", "REFERENCE_MODEL", "SettingError",
           "Settings", "add_options", "resolve"]
