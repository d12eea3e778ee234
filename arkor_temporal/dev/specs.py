"""The specs shipped with the package, for running the local stack from anywhere.

``quickstart.yaml`` is package data (a link to ``examples/quickstart.yaml`` in the
repository, a copy in a built wheel), so ``dev run`` without a SPEC works in any
directory, not only in a checkout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path

QUICKSTART = "quickstart.yaml"


@contextmanager
def quickstart_spec() -> Iterator[Path]:
    """The built-in quickstart spec as a file, for as long as the ``with`` lasts.

    Through ``as_file``: from a zipped install it is extracted to a temporary file.
    """
    with as_file(files("arkor_temporal.dev").joinpath(QUICKSTART)) as path:
        yield path
