"""Benchmarks: ``python -m bench`` (or ``./dev bench``)."""
