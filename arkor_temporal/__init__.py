"""arkor-temporal: every Arkor training run a durable Temporal workflow."""

__version__ = "0.1.0"
