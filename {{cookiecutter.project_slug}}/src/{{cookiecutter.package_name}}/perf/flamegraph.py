"""A flame graph (SVG) of the captured request profiles, for `flask profile-report --flamegraph`.

cProfile keeps, for each function, the time spent under it per caller, not whole call
stacks; so a function's width under a caller is its time from that caller, and deeper
frames are shared out in proportion when a caller was reached from several places (the
approach of flameprof). Wide bars are where the time went; hover one for its figures.
The SVG is self-contained: any browser opens it, offline.
"""

from __future__ import annotations

import html
import pstats
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# (file, line, function name), as pstats keys functions.
Function = tuple[str, int, str]

WIDTH = 1200
ROW_HEIGHT = 16
# Frames narrower than this share of the total are left out: unreadable, and countless.
MIN_SHARE = 0.002
MAX_DEPTH = 80
FONT_WIDTH = 7  # an approximation of one character at font-size 11, to clip labels


@dataclass(frozen=True)
class Frame:
    """One bar: a function, its depth from the root and its share of the width."""

    function: Function
    depth: int
    start: float
    seconds: float


def callees(stats: dict[Function, Any]) -> dict[Function, dict[Function, float]]:
    """For each function, the cumulative seconds of each function it called."""
    children: dict[Function, dict[Function, float]] = {}
    for function, (_cc, _nc, _tt, _ct, callers) in stats.items():
        for caller, caller_figures in callers.items():
            children.setdefault(caller, {})[function] = caller_figures[3]
    return children


def frames_of(profile: pstats.Stats) -> tuple[list[Frame], float]:
    """Every bar to draw and the total seconds the root bars span."""
    stats: dict[Function, Any] = profile.stats  # type: ignore[attr-defined]
    children = callees(stats)
    roots = [function for function, figures in stats.items() if not figures[4]]
    total = sum(stats[root][3] for root in roots) or 1e-9
    frames: list[Frame] = []

    def visit(
        function: Function, depth: int, start: float, seconds: float, path: set[Function]
    ) -> None:
        frames.append(Frame(function, depth, start, seconds))
        if depth >= MAX_DEPTH:
            return
        own_total = stats[function][3] or 1e-9
        # This frame may be one of several places the function was called from.
        scale = min(1.0, seconds / own_total)
        offset = start
        for child, child_seconds in sorted(
            children.get(function, {}).items(), key=lambda kv: -kv[1]
        ):
            width = child_seconds * scale
            if child in path or width < MIN_SHARE * total:
                continue
            visit(child, depth + 1, offset, width, path | {child})
            offset += width

    offset = 0.0
    for root in sorted(roots, key=lambda function: -stats[function][3]):
        if stats[root][3] >= MIN_SHARE * total:
            visit(root, 0, offset, stats[root][3], {root})
            offset += stats[root][3]
    return frames, total


def label(function: Function) -> str:
    """`name (file:line)`, or the built-in's name."""
    file, line, name = function
    if file == "~":
        return name
    return f"{name} ({Path(file).name}:{line})"


def render_svg(frames: list[Frame], total: float, title: str) -> str:
    """The flame graph: roots at the bottom, callees stacked above their callers."""
    depth = max((frame.depth for frame in frames), default=0) + 1
    height = (depth + 2) * ROW_HEIGHT
    bars = []
    for frame in frames:
        x = frame.start / total * WIDTH
        width = frame.seconds / total * WIDTH
        y = height - (frame.depth + 1) * ROW_HEIGHT
        text = label(frame.function)
        tooltip = f"{text}: {frame.seconds * 1000:.1f} ms, {frame.seconds / total:.1%}"
        # Warm colours, varied by name, so neighbouring bars stay apart.
        hue = 10 + zlib.crc32(frame.function[2].encode()) % 40
        fits = int(width / FONT_WIDTH) - 1
        caption = text if len(text) <= fits else (text[: fits - 1] + "…" if fits > 3 else "")
        bars.append(
            f"<g><title>{html.escape(tooltip)}</title>"
            f'<rect x="{x:.2f}" y="{y}" width="{max(width - 0.5, 0.5):.2f}" '
            f'height="{ROW_HEIGHT - 1}" fill="hsl({hue},85%,60%)"/>'
            f'<text x="{x + 3:.2f}" y="{y + 11}" font-size="11">{html.escape(caption)}</text></g>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="monospace">'
        f'<text x="4" y="12" font-size="12">{html.escape(title)}</text>'
        f"{''.join(bars)}</svg>\n"
    )


def write_flamegraph(profile: pstats.Stats, path: Path, title: str) -> int:
    """Write the SVG to `path`; the number of bars drawn."""
    frames, total = frames_of(profile)
    path.write_text(render_svg(frames, total, title), encoding="utf-8")
    return len(frames)
