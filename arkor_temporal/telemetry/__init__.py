"""The worker's and the clients' telemetry: Prometheus metrics and OpenTelemetry tracing.

Nothing of ours is imported here, so the activities, the client layer and the worker
can all use it (tests/architecture). :mod:`.metrics` needs ``prometheus-client`` (a
main dependency); :mod:`.tracing` works without the ``[tracing]`` extra as long as
tracing stays off.
"""
