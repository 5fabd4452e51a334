"""Aggregation of interleaved rounds: medians with their range, ratios, target verdicts."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    """The median of a figure across rounds, with the lowest and highest round."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        """Median, min and max of at least one value."""
        ordered = sorted(values)
        if not ordered:
            raise ValueError("no values to aggregate")
        return cls(statistics.median(ordered), ordered[0], ordered[-1])

    def as_dict(self) -> dict[str, float]:
        """Plain data for the JSON report."""
        return {"median": self.median, "min": self.low, "max": self.high}


FIGURES = ("rps", "p50_ms", "p99_ms", "cpu_us_per_request")


def round_order(keys: Sequence[str], round_index: int) -> list[str]:
    """Every row once, starting one further along each round, so none always goes first."""
    if not keys:
        return []
    start = round_index % len(keys)
    return [*keys[start:], *keys[:start]]


def aggregate(samples: Iterable[dict]) -> dict[str, dict[str, Spread]]:
    """{row key: {figure: Spread}} from samples {"key": ..., figure: value, ...}."""
    by_row: dict[str, list[dict]] = {}
    for sample in samples:
        by_row.setdefault(sample["key"], []).append(sample)
    return {
        key: {figure: Spread.of(sample[figure] for sample in rows) for figure in FIGURES}
        for key, rows in by_row.items()
    }


def ratio(
    rows: dict[str, dict[str, Spread]], figure: str, numerator: str, denominator: str
) -> float | None:
    """median(numerator) / median(denominator) of a figure; None when a row is missing."""
    if numerator not in rows or denominator not in rows:
        return None
    bottom = rows[denominator][figure].median
    return rows[numerator][figure].median / bottom if bottom else None


def paired_ratio(
    samples: Iterable[dict], figure: str, numerator: str, denominator: str
) -> Spread | None:
    """The ratio within each round (both rows measured minutes apart), then its spread.

    On a noisy host a ratio of medians mixes rounds; a ratio taken inside each round
    cancels what the round shared (the host's load at the time).
    """
    per_round: dict[int, dict[str, float]] = {}
    for sample in samples:
        per_round.setdefault(sample["round"], {})[sample["key"]] = sample[figure]
    values = [
        figures[numerator] / figures[denominator]
        for figures in per_round.values()
        if numerator in figures and figures.get(denominator)
    ]
    return Spread.of(values) if values else None


def cpu_us_per_request(cpu_seconds: float, requests: int) -> float:
    """Server CPU microseconds per request answered."""
    return cpu_seconds * 1e6 / requests if requests else float("nan")
