"""The page's charts, drawn by matplotlib as inline SVG: no JavaScript and nothing to fetch.

Figures are made with ``matplotlib.figure.Figure`` directly, not through pyplot, so no global figure
list grows and a user's own pyplot state is left alone. Text stays text (``svg.fonttype: none``), which
keeps the SVG small and lets the page's tests read the labels; a fixed hash salt per chart makes the
output reproducible and keeps the ids of two charts on one page apart. Labels come from reports (model
names, function names): matplotlib escapes text it writes into SVG, and mathtext is off so a ``$`` in
a name is just a character.
"""

from __future__ import annotations

import io
from typing import Any, Sequence

from .history import Checkpoint, HeatMap

LABEL_CHARS = 32  # longer checkpoint and function names are cut (the tables show them whole)
ANNOTATED_COLUMNS = 10  # cells carry their percentage up to this many checkpoints
ACCURACY_ID, HEAT_CELLS_ID = "sebench-accuracy", "sebench-heat-cells"


def _style(salt: str) -> dict[Any, Any]:  # matplotlib types the keys as literals
    return {"svg.fonttype": "none", "svg.hashsalt": salt, "text.parse_math": False, "text.usetex": False,
            "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"], "font.size": 9,
            "axes.spines.top": False, "axes.spines.right": False}


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"


def _svg(figure: Any) -> str:
    """The figure as an ``<svg>`` element to place in HTML (without the XML prologue and doctype)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def accuracy_chart(checkpoints: Sequence[Checkpoint]) -> str:
    """mean@k per split over the checkpoints, oldest first, with 95 % intervals as error bars."""
    import matplotlib
    from matplotlib.figure import Figure

    splits = list(dict.fromkeys(name for point in checkpoints for name in point.accuracy))
    with matplotlib.rc_context(_style("sebench-accuracy")):
        figure = Figure(figsize=(8.5, 3.4), layout="constrained")
        figure.set_gid(ACCURACY_ID)
        axes = figure.add_subplot()
        for number, split in enumerate(splits):
            places = [index for index, point in enumerate(checkpoints) if split in point.accuracy]
            mean, low, high = zip(*(point.accuracy[split] for point in checkpoints if split in point.accuracy),
                                  strict=True)
            shown = axes.errorbar(places, [100 * m for m in mean],
                                  yerr=[[100 * (m - lo) for m, lo in zip(mean, low, strict=True)],
                                        [100 * (hi - m) for m, hi in zip(mean, high, strict=True)]],
                                  marker="o", markersize=4, capsize=3, linewidth=1.5, label=_short(split))
            shown.lines[0].set_gid(f"{ACCURACY_ID}-split-{number}")  # the tests count its markers
        axes.set_xticks(range(len(checkpoints)), [_short(point.label) for point in checkpoints],
                        rotation=20 if len(checkpoints) > 3 else 0, ha="right" if len(checkpoints) > 3 else "center")
        axes.set_ylim(0, 100)
        axes.set_ylabel("mean@k (%), 95 % interval")
        axes.grid(axis="y", alpha=0.3)
        axes.legend(loc="best", frameon=False)
        return _svg(figure)


def heat_map_chart(heat: HeatMap, checkpoints: Sequence[Checkpoint]) -> str:
    """One row per function, one column per checkpoint; colour = pass rate of its items (blank: none)."""
    import matplotlib
    import numpy
    from matplotlib.figure import Figure

    rows, columns = len(heat.rows), len(checkpoints)
    values = numpy.ma.masked_invalid(numpy.array(
        [[numpy.nan if rate is None else rate for rate in row.rates] for row in heat.rows], dtype=float))
    with matplotlib.rc_context(_style("sebench-heat-map")):
        figure = Figure(figsize=(min(3.0 + 1.3 * columns, 11.0), 1.2 + 0.24 * rows), layout="constrained")
        axes = figure.add_subplot()
        # ten colours, one per 10 % of pass rate: matplotlib draws a colour bar of few steps as vector
        # patches (a smooth one becomes an embedded PNG), and steps are easier to read across rows
        colours = matplotlib.colormaps["RdYlGn"].resampled(10)
        cells = axes.pcolormesh(values, cmap=colours, vmin=0.0, vmax=1.0, edgecolors="white", linewidth=1)
        cells.set_gid(HEAT_CELLS_ID)  # one path per drawn cell: the tests count them
        axes.set_xticks([index + 0.5 for index in range(columns)], [_short(p.label) for p in checkpoints],
                        rotation=20 if columns > 3 else 0, ha="right" if columns > 3 else "center")
        axes.set_yticks([index + 0.5 for index in range(rows)], [_short(row.function) for row in heat.rows])
        axes.invert_yaxis()  # the first row (lost earliest) on top
        axes.tick_params(length=0)
        for side in ("left", "bottom"):
            axes.spines[side].set_visible(False)
        if columns <= ANNOTATED_COLUMNS:
            for y, row in enumerate(heat.rows):
                for x, rate in enumerate(row.rates):
                    if rate is not None:
                        axes.text(x + 0.5, y + 0.5, f"{100 * rate:.0f}", ha="center", va="center", fontsize=7,
                                  color="black" if 0.25 < rate < 0.8 else "white")
        colour_bar = figure.colorbar(cells, ax=axes, fraction=0.05, pad=0.02)
        colour_bar.set_label("pass rate of the function's items")
        return _svg(figure)
