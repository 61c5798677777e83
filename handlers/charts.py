"""Charts as PNG images (matplotlib's Agg backend: no display, no files).

The pictures hold numbers, dates as digits and language codes only; every word that explains
them goes in the caption, in the reader's language (Telegram shapes and orders any script).
"""

from __future__ import annotations

import io
from datetime import date

from matplotlib.figure import Figure  # a bare Figure renders with Agg: no pyplot, no display

SHARES_COLOUR, NEWCOMERS_COLOUR = "#1f77b4", "#ff7f0e"  # blue and orange, as the caption says
MAX_LANGUAGES = 12
BAR_WIDTH = 0.4


def reach_chart(
    week_starts: list[date], weekly: list[tuple[int, int]], languages: list[tuple[str, int]]
) -> bytes:
    """Left: shares and new people per week, labelled by the day each week starts.
    Right: people reached per language, largest on top."""
    figure = Figure(figsize=(10, 4.5), dpi=100, layout="constrained")
    per_week, per_language = figure.subplots(1, 2, width_ratios=(3, 2))
    slots = range(len(weekly))
    shares, newcomers = [s for s, _ in weekly], [n for _, n in weekly]
    per_week.bar([w - BAR_WIDTH / 2 for w in slots], shares, BAR_WIDTH, color=SHARES_COLOUR)
    per_week.bar([w + BAR_WIDTH / 2 for w in slots], newcomers, BAR_WIDTH, color=NEWCOMERS_COLOUR)
    per_week.set_xticks(list(slots), [f"{day.day}.{day.month}" for day in week_starts])
    per_week.yaxis.get_major_locator().set_params(integer=True)
    per_week.grid(axis="y", alpha=0.3)
    top = languages[:MAX_LANGUAGES]
    per_language.barh(
        [code or "?" for code, _ in reversed(top)],
        [count for _, count in reversed(top)],
        color=SHARES_COLOUR,
    )
    per_language.xaxis.get_major_locator().set_params(integer=True)
    per_language.grid(axis="x", alpha=0.3)
    for axes in (per_week, per_language):
        axes.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
