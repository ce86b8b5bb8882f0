"""``python -m pytest_sebench``: the ``sebench`` command."""

import sys

from .cli.main import main

sys.exit(main())
