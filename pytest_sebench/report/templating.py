"""The Jinja2 environment of the reports people read (the HTML page, the Markdown summary).

Templates live in ``report/templates/`` and ship with the package. HTML templates are autoescaped:
everything a model or a dataset wrote reaches the page as text, never as markup. Undefined names are
errors, so a template that asks for a field the page model does not have fails in the tests, not in a
user's browser.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pytest_sebench.report", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2", "svg"),
                                            default_for_string=False, default=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
