"""``sebench``: the reports of earlier runs, read without pytest (compare, html, show, history)."""
