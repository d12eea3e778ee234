"""The local stack and its process helpers (used by ``dev``, the tests and the benchmarks)."""
