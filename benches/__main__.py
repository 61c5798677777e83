"""Run every benchmark, print one table, and write it to benches/results.md."""

from __future__ import annotations

import asyncio
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from benches import broadcast, search, throughput

RESULTS = Path(__file__).with_name("results.md")


def main() -> None:
    """Run the benchmarks in order and report."""
    header = [
        "## Benchmarks",
        "",
        f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        "",
    ]
    lines = header + asyncio.run(throughput.run())
    lines += ["", *asyncio.run(search.run())]
    lines += ["", *asyncio.run(broadcast.run())]
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.write_text(report)
    print(f"written to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
