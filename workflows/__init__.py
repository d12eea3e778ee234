"""Deterministic workflow code: no I/O, clocks or randomness outside ``workflow.*``."""
