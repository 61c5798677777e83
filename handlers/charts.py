"""Charts as PNG images (matplotlib's Agg backend: no display, no files).

The pictures hold numbers, dates as digits and language codes only; every word that explains
them goes in the caption, in the reader's language (Telegram shapes and orders any script).
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

SHARES_COLOUR, NEWCOMERS_COLOUR = "#1f77b4", "#ff7f0e"  # blue and orange, as the caption says


def reach_chart(weekly: list[tuple[int, int]], languages: list[tuple[str, int]]) -> bytes:
    """Left: shares and new people per week (oldest first). Right: people reached per language."""
    figure = Figure(figsize=(10, 4.5), dpi=100, layout="constrained")
    per_week, per_language = figure.subplots(1, 2, width_ratios=(3, 2))
    weeks = range(len(weekly))
    width = 0.4
    per_week.bar([w - width / 2 for w in weeks], [s for s, _ in weekly], width, color=SHARES_COLOUR)
    per_week.bar(
        [w + width / 2 for w in weeks], [n for _, n in weekly], width, color=NEWCOMERS_COLOUR
    )
    per_week.set_xticks(
        list(weeks), [f"-{len(weekly) - 1 - w}" if w < len(weekly) - 1 else "0" for w in weeks]
    )
    per_week.yaxis.get_major_locator().set_params(integer=True)
    per_week.grid(axis="y", alpha=0.3)
    codes = [code or "?" for code, _ in languages][:12]
    counts = [count for _, count in languages][:12]
    per_language.barh(codes[::-1], counts[::-1], color=SHARES_COLOUR)
    per_language.xaxis.get_major_locator().set_params(integer=True)
    per_language.grid(axis="x", alpha=0.3)
    for axes in (per_week, per_language):
        axes.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
