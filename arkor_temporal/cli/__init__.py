"""The ``arkor-temporal`` command: commands and terminal views."""
