"""Headless Chromium (Debian's ``chromium``) for tests that check a page in a real browser.

:func:`chromium` finds the browser or skips the test (fails it in CI, which sets
``ARKOR_REQUIRE_BROWSER=1``); :func:`dump_dom` is the DOM once the page has loaded and
its scripts have run; :func:`screenshot` and :func:`read_png` give its pixels;
:func:`measure_page` asks the browser whether each SVG shape is painted where its
geometry says.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REQUIRE_VARIABLE = "ARKOR_REQUIRE_BROWSER"


def _browser_required() -> bool:
    return os.environ.get(REQUIRE_VARIABLE) == "1"


WINDOW = (1200, 3000)  # tall enough that a report page fits without scrolling
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
TIMEOUT = 60.0


def chromium() -> Path:
    """The browser's path; skips the test without it (fails it when a browser is required)."""
    found = shutil.which("chromium")
    if found is not None:
        return Path(found)
    if _browser_required():
        pytest.fail(f"{REQUIRE_VARIABLE}=1 but no chromium on PATH: apt-get install chromium")
    pytest.skip("install Debian's chromium")


def run_chromium(page: Path, *args: str) -> str:
    """Load ``page`` in a fresh headless profile with ``args``; its stdout."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run(
            [
                str(chromium()),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                *args,
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def dump_dom(page: Path) -> str:
    """The page's DOM as the browser serializes it after loading (scripts have run)."""
    dom = run_chromium(page, "--dump-dom")
    assert "<html" in dom, f"chromium dumped no DOM for {page}"
    return dom


def screenshot(page: Path, out: Path) -> Path:
    """A PNG of the page in a :data:`WINDOW`-sized viewport."""
    run_chromium(page, f"--screenshot={out}")
    assert out.exists() and out.stat().st_size > 0, f"chromium wrote no screenshot of {page}"
    return out


# -- asking the browser where it paints --------------------------------------------

# Scrolls each shape into view, maps its points to the viewport with the shape's own
# transform, and asks which elements the browser hit-tests there.
_MEASURE = """
<script>
((regionSelector) => {
  const points = (shape) => {
    if (shape instanceof SVGPolylineElement) {
      return Array.from({length: shape.points.numberOfItems}, (_, i) => shape.points.getItem(i));
    }
    if (shape instanceof SVGCircleElement) {  // a point on its outline: rings have no fill
      return [{x: shape.cx.baseVal.value + shape.r.baseVal.value, y: shape.cy.baseVal.value}];
    }
    return [];
  };
  // Painted by the shape itself, or by another shape of its series (the dots on its line).
  const paints = (shape, element) => element === shape || (element.dataset
    && element.dataset.run === shape.dataset.run
    && element.dataset.series === shape.dataset.series);
  const shapes = [];
  for (const shape of document.querySelectorAll("svg [data-series]")) {
    shape.scrollIntoView({block: "center"});
    const matrix = shape.getScreenCTM();
    const missed = [];
    const list = points(shape);
    for (const point of list) {
      const at = new DOMPoint(point.x, point.y).matrixTransform(matrix);
      const there = document.elementsFromPoint(at.x, at.y);
      if (!there.some((element) => paints(shape, element))) missed.push([point.x, point.y]);
    }
    shapes.push({tag: shape.tagName, data: {...shape.dataset}, checked: list.length, missed});
  }
  const regions = Array.from(document.querySelectorAll(regionSelector), (element) => {
    const box = element.getBoundingClientRect();
    return [box.left + window.scrollX, box.top + window.scrollY, box.width, box.height];
  });
  const height = document.documentElement.scrollHeight;
  const out = document.createElement("pre");
  out.id = "painted-shapes";
  out.hidden = true;  // takes no room: the page keeps its own height
  out.textContent = JSON.stringify({shapes, regions, height});
  document.body.append(out);
})(REGIONS);
</script>
"""


@dataclass(frozen=True)
class PaintedShape:
    """An SVG shape as the browser laid it out: which of its points it paints."""

    tag: str
    data: dict[str, str]  # its data-* attributes, without the prefix (dataset names)
    checked: int
    missed: list[list[float]]


Box = tuple[int, int, int, int]  # left, top, width, height in CSS pixels of the document


@dataclass(frozen=True)
class MeasuredPage:
    dom: str  # as the browser serialized it, the measurements appended
    shapes: list[PaintedShape]
    regions: list[Box]  # where the elements matching ``regions`` are, in document order
    height: int  # of the whole document


def measure_page(page: Path, work_dir: Path, *, regions: str = "svg") -> MeasuredPage:
    """Load ``page`` and measure every ``svg [data-series]`` shape in the browser.

    A shape's point counts as painted when the shape, or another shape of the same
    ``data-run`` and ``data-series`` (a dot on its line), is hit-tested there. The page
    is copied with a measuring script added, so the page under test stays as written.
    """
    text = page.read_text(encoding="utf-8")
    assert "</body>" in text, f"{page} has no </body>"
    script = _MEASURE.replace("REGIONS", json.dumps(regions))
    probe = work_dir / f"{page.stem}.measured.html"
    probe.write_text(text.replace("</body>", script + "</body>", 1), encoding="utf-8")
    dom = dump_dom(probe)
    found = re.search(r'<pre id="painted-shapes" hidden="">(.*?)</pre>', dom, re.S)
    assert found, "the measuring script did not run"
    measured: dict[str, Any] = json.loads(html.unescape(found[1]))
    return MeasuredPage(
        dom,
        [PaintedShape(s["tag"], s["data"], s["checked"], s["missed"]) for s in measured["shapes"]],
        [_box(region) for region in measured["regions"]],
        round(measured["height"]),
    )


def _box(region: list[float]) -> Box:
    left, top, width, height = (round(value) for value in region)
    return left, top, width, height


# -- reading a screenshot ----------------------------------------------------------


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int
    rows: list[bytes]  # unfiltered scanlines

    def colours(self, box: Box | None = None) -> Counter[tuple[int, int, int]]:
        """How many pixels (of the whole image, or inside ``box``) have each RGB colour."""
        left, top, width, height = box or (0, 0, self.width, self.height)
        c = self.channels
        counts: Counter[tuple[int, int, int]] = Counter()
        for row in self.rows[max(top, 0) : top + height]:
            part = row[max(left, 0) * c : (left + width) * c]
            counts.update(zip(part[0::c], part[1::c], part[2::c], strict=True))
        return counts

    def pixels_near(
        self, colours: Sequence[tuple[int, int, int]], box: Box | None = None, tolerance: int = 24
    ) -> int:
        """How many pixels are within ``tolerance`` (per channel) of one of ``colours``."""
        return sum(
            count
            for seen, count in self.colours(box).items()
            if any(_near(seen, colour, tolerance) for colour in colours)
        )


def _near(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def read_png(path: Path) -> Image:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    header, compressed, offset = b"", bytearray(), 8
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        header = body if kind == b"IHDR" else header
        compressed += body if kind == b"IDAT" else b""
        offset += 12 + length
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, colour_type, interlace = header[8], header[9], header[12]
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, f"unsupported PNG {header!r}"
    channels = 3 if colour_type == 2 else 4
    rows = _unfilter(zlib.decompress(compressed), width * channels, height, channels)
    return Image(width, height, channels, rows)


def _unfilter(raw: bytes, stride: int, height: int, bpp: int) -> list[bytes]:
    """Undo the PNG scanline filters (None, Sub, Up, Average, Paeth)."""
    add = _ByteAdder(stride)
    rows: list[bytes] = []
    previous = bytes(stride)
    for index in range(height):
        start = index * (stride + 1)
        kind, line = raw[start], raw[start + 1 : start + 1 + stride]
        if kind == 2:  # Up, the most common: bytewise addition of the row above
            line = add(line, previous)
        elif kind:
            line = _unfilter_line(kind, bytearray(line), previous, bpp)
        rows.append(line)
        previous = line
    return rows


class _ByteAdder:
    """Bytewise addition modulo 256 of two equal-length byte strings, on big integers."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.high = int.from_bytes(b"\x80" * size, "big")
        self.low = self.high ^ ((1 << (8 * size)) - 1)

    def __call__(self, a: bytes, b: bytes) -> bytes:
        x, y = int.from_bytes(a, "big"), int.from_bytes(b, "big")
        total = ((x & self.low) + (y & self.low)) ^ ((x ^ y) & self.high)
        return total.to_bytes(self.size, "big")


def _unfilter_line(kind: int, line: bytearray, up: bytes, bpp: int) -> bytes:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up[i]) // 2) & 0xFF
        else:
            line[i] = (line[i] + _paeth(left, up[i], up[i - bpp] if i >= bpp else 0)) & 0xFF
    return bytes(line)


def _paeth(left: int, up: int, corner: int) -> int:
    estimate = left + up - corner
    to_left, to_up, to_corner = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
    if to_left <= to_up and to_left <= to_corner:
        return left
    return up if to_up <= to_corner else corner


def hex_colour(text: str) -> tuple[int, int, int]:
    """``#4e79a7`` as an RGB triple."""
    value = text.removeprefix("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))
