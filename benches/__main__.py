"""Run the benchmarks and print one report: `python -m benches [throughput coldstart ...]`.

With no names, every benchmark runs and the report goes to benches/results.md; with names,
only those run and the report goes to benches/out/<names>.md, leaving results.md as it was.
"""

from __future__ import annotations

import asyncio
import os
import platform
import sys
from datetime import UTC, datetime

from benches import broadcast, coldstart, search, throughput
from benches.harness import OUT, ROOT

BENCHMARKS = {
    "throughput": throughput.run,
    "coldstart": coldstart.run,
    "search": search.run,
    "broadcast": broadcast.run,
}
RESULTS = ROOT / "benches" / "results.md"


def main(names: list[str]) -> int:
    """Run the named benchmarks (all if none), in order, and report."""
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from: {', '.join(BENCHMARKS)}",
              file=sys.stderr)  # fmt: skip
        return 2
    chosen = [name for name in BENCHMARKS if name in names] or list(BENCHMARKS)
    lines = [
        "## Benchmarks",
        "",
        f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
    ]
    for name in chosen:
        lines += ["", *asyncio.run(BENCHMARKS[name]())]
    report = "\n".join(lines) + "\n"
    print(report)
    output = RESULTS if not names else OUT / f"{'-'.join(chosen)}.md"
    output.parent.mkdir(exist_ok=True)
    output.write_text(report)
    print(f"written to {output.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
