"""Benchmarks of arkor-temporal: ``python -m bench`` runs all, ``python -m bench NAME`` one.

Each benchmark prints its measurement beside a baseline measured in the same run and
the ratio of the two, and writes ``bench/results/<name>.json``.
"""
