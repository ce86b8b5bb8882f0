"""The built-in sandbox backends, one module each, each declaring ``BACKEND`` (see ``../registry.py``)."""
