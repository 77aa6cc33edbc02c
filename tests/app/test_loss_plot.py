"""The loss plot: total + at most two chosen terms, plain names, legend outside, fitted range."""

from __future__ import annotations

import math

import numpy as np


def _fill(plot, steps=50):
    for s in range(1, steps + 1):
        plot.add(
            s,
            {
                "loss": 0.5 / s**0.3,
                "mean_abs_f": 0.05 / s**0.5,
                "zero_level": 0.2 / s**0.2,
                "general_level": 0.1,
                "surface": 0.04,
                "zero_eikonal": 1e-6,
            },
        )


def test_total_and_two_terms_with_plain_names_and_a_fitted_range(qtbot):
    from levelset_studio.app.widgets.plots import TERM_HELP, LossPlot, term_name

    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(300, 150)
    plot.show()
    img = plot.grab().toImage()  # the empty plot draws its one-line hint
    assert img.width() == 300
    _fill(plot)
    assert plot.shown() == ["loss", "mean_abs_f", "zero_level"]
    assert [term_name(k) for k in plot.shown()] == ["Total loss", "Scan distance", "Surface samples"]
    assert all(TERM_HELP[k] for k in plot.shown())
    plot.set_terms(["general_level", "zero_eikonal", "surface"])  # at most two
    assert plot.shown() == ["loss", "general_level", "zero_eikonal"]
    plot.set_terms(["mean_abs_f"])
    _x0, _x1, y0, y1 = plot._ranges()
    data = [v for k in plot.shown() for _, v in plot.series[k]]
    lo, hi = math.log10(min(data)), math.log10(max(data))
    # the data fill the axis: the range is theirs plus a little air, not decades of blank
    assert y0 < lo and y1 > hi and (y1 - y0) < 1.25 * (hi - lo) + 0.11
    # the legend sits below the plot box, not over the lines
    assert plot._plot_rect().bottom() <= plot.height() - 30
    step, vals = plot.values_at(plot._plot_rect().right())
    assert step == 50 and vals["loss"] == plot.series["loss"][-1][1]
    img = plot.grab().toImage()
    arr = np.array([[img.pixelColor(x, y).red() for x in range(0, 300, 3)] for y in range(0, 150, 3)])
    assert arr.std() > 5  # something was drawn


def test_toggling_a_term_from_the_menu_keeps_at_most_two(qtbot):
    from levelset_studio.app.widgets.plots import LossPlot

    plot = LossPlot()
    qtbot.addWidget(plot)
    _fill(plot, 5)
    plot._toggle("surface", True)
    assert len(plot.shown()) == 3 and "surface" in plot.shown()
    plot._toggle("surface", False)
    assert "surface" not in plot.shown() and plot.shown()[0] == "loss"
