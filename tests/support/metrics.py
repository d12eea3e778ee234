"""Reading a worker's Prometheus endpoint: one scrape as samples, and sums over them."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Scrape:
    """One answer of ``GET /metrics``."""

    text: str
    samples: list[Sample]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        samples = []
        for line in text.splitlines():
            match = _SAMPLE.match(line)
            if match is None or line.startswith("#"):
                continue
            labels = {m["key"]: m["value"] for m in _LABEL.finditer(match["labels"] or "")}
            samples.append(Sample(match["name"], labels, float(match["value"])))
        return cls(text, samples)

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels``."""
        return sum(
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def has(self, name: str) -> bool:
        return any(s.name == name for s in self.samples)

    @property
    def names(self) -> set[str]:
        return {s.name for s in self.samples}


async def scrape(address: str) -> Scrape:
    """``GET http://address/metrics``, parsed."""
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(f"http://{address}/metrics")
    answer.raise_for_status()
    assert answer.headers["content-type"].startswith("text/plain"), answer.headers
    return Scrape.parse(answer.text)
