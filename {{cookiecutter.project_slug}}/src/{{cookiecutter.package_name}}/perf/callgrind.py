"""Convert pstats data to the callgrind format that kcachegrind and qcachegrind read.

pstats keeps, per function, its own time and, per caller, the calls and the time spent
under that caller. Callgrind wants the inverse: per function, its own cost and, per
callee, the calls and the inclusive cost of those calls. Costs are in microseconds.
Format reference: https://valgrind.org/docs/manual/cl-format.html
"""

from __future__ import annotations

import pstats
from collections import defaultdict
from pathlib import Path
from typing import TextIO

# (filename, line, function name), as pstats keys functions.
FunctionKey = tuple[str, int, str]
# (callee, call count, inclusive seconds) for one caller.
CalleeCall = tuple[FunctionKey, int, float]


def write_callgrind(stats: pstats.Stats, destination: Path) -> None:
    """Write `stats` as a callgrind file at `destination`."""
    with destination.open("w", encoding="utf-8") as out:
        write_callgrind_to(stats, out)


def write_callgrind_to(stats: pstats.Stats, out: TextIO) -> None:
    """Stream the callgrind rendering of `stats` into `out`."""
    table = stats.stats  # type: ignore[attr-defined]
    callees = callees_by_caller(table)
    total_seconds = sum(entry[2] for entry in table.values())
    out.write("# callgrind format\nversion: 1\ncreator: flask profile-report\n")
    out.write(f"events: Microseconds\nsummary: {microseconds(total_seconds)}\n")
    for function, (_, _, own_seconds, _, _) in table.items():
        out.write(f"\nfl={function[0]}\nfn={function_name(function)}\n")
        out.write(f"{function[1]} {microseconds(own_seconds)}\n")
        for callee, calls, inclusive_seconds in callees.get(function, []):
            out.write(f"cfl={callee[0]}\ncfn={function_name(callee)}\n")
            out.write(f"calls={calls} {callee[1]}\n")
            out.write(f"{function[1]} {microseconds(inclusive_seconds)}\n")


def callees_by_caller(table: dict) -> dict[FunctionKey, list[CalleeCall]]:
    """Invert pstats' caller lists into callee lists."""
    callees: dict[FunctionKey, list[CalleeCall]] = defaultdict(list)
    for callee, (_, _, _, _, callers) in table.items():
        for caller, edge in callers.items():
            # cProfile records (primitive calls, calls, own s, inclusive s) per caller.
            calls, inclusive_seconds = (
                (edge[1], edge[3]) if isinstance(edge, tuple) else (edge, 0.0)
            )
            callees[caller].append((callee, calls, inclusive_seconds))
    return callees


def function_name(function: FunctionKey) -> str:
    """`name:line`, unique within a file even for lambdas and nested functions."""
    filename, line, name = function
    return f"{name}:{line}" if filename != "~" else name


def microseconds(seconds: float) -> int:
    """Callgrind costs are integers."""
    return round(seconds * 1_000_000)
