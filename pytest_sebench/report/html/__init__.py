"""The HTML page of a run (``sebench html``, ``--sebench-html``): one self-contained file.

``page.py`` builds the page model and renders it; ``figures.py`` reads a report's figures, ``items.py``
the items (rows and the data island), ``history.py`` the checkpoints, ``fields.py`` a report's
loosely typed fields, ``charts.py`` draws them with
matplotlib, ``code.py`` highlights code with Pygments, ``prompts.py`` rebuilds each prompt. The template
is ``report/templates/page.html.j2`` and its partials; the script and styles are in ``report/static/``.
Heavy libraries (matplotlib, Pygments, Jinja2) are imported only when a page is made.
"""
