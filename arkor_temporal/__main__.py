"""``python -m arkor_temporal``: the ``arkor-temporal`` command."""

from arkor_temporal.cli.main import main

if __name__ == "__main__":
    main()
