"""Encore's benchmark (`python -m bench`); not part of the pytest suite."""
