"""The ``arkor-temporal`` command: one module per command group, views under ``views/``.

``app`` is the shell every group shares (exit codes, errors, connection flags,
``--json``); ``main`` attaches the groups to the root and is the console entry.
The CLI talks to Temporal through ``arkor_temporal.client`` only and starts the
worker and the emulator as processes, never importing them.
"""
