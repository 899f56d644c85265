"""Inline SVG line chart, for the campaign form and the PDF report.

wkhtmltopdf renders inline SVG without JavaScript, so the same markup serves
the form and the printed report.
"""

import math

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 260
MARGIN_LEFT = 48
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 64
GRID_LINES = 4
# At most this many dates are written under the x axis, evenly spread.
MAX_X_LABELS = 6


def _nice_maximum(value):
    """Return the smallest round number (1, 2 or 5 times a power of ten) at
    least ``value``, so that grid labels are round."""
    if value <= 0:
        return 1
    exponent = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if value <= factor * exponent:
            return factor * exponent
    return 10 * exponent


def render_line_chart(x_labels, series):
    """Return the SVG (Markup) of a line chart.

    :param x_labels: one label per point, already formatted
    :param series: list of ``(name, colour, values)``, one value per label
    """
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    maximum = _nice_maximum(max((max(values) for _n, _c, values in series), default=0))
    count = len(x_labels)

    def x_of(index):
        if count == 1:
            return MARGIN_LEFT + plot_width / 2
        return MARGIN_LEFT + plot_width * index / (count - 1)

    def y_of(value):
        return MARGIN_TOP + plot_height * (1 - value / maximum)

    parts = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" class="o_campaign_report_chart" '
            'width="%s" height="%s" viewBox="0 0 %s %s" '
            'style="font-family: sans-serif; font-size: 11px;">'
        )
        % (WIDTH, HEIGHT, WIDTH, HEIGHT)
    ]
    for line in range(GRID_LINES + 1):
        value = maximum * line / GRID_LINES
        y = y_of(value)
        parts.append(
            Markup(
                '<line x1="%s" y1="%.1f" x2="%s" y2="%.1f" stroke="#dddddd"/>'
                '<text x="%s" y="%.1f" text-anchor="end">%s</text>'
            )
            % (
                MARGIN_LEFT,
                y,
                WIDTH - MARGIN_RIGHT,
                y,
                MARGIN_LEFT - 4,
                y + 4,
                f"{value:g}",
            )
        )

    step = max(1, math.ceil(count / MAX_X_LABELS))
    for index in range(0, count, step):
        parts.append(
            Markup('<text x="%.1f" y="%s" text-anchor="middle">%s</text>')
            % (x_of(index), HEIGHT - MARGIN_BOTTOM + 16, escape(x_labels[index]))
        )

    for position, (name, colour, values) in enumerate(series):
        points = " ".join(
            f"{x_of(index):.1f},{y_of(value):.1f}" for index, value in enumerate(values)
        )
        parts.append(
            Markup('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>')
            % (colour, points)
        )
        for index, value in enumerate(values):
            parts.append(
                Markup('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>')
                % (x_of(index), y_of(value), colour)
            )
        legend_x = MARGIN_LEFT + position * 140
        legend_y = HEIGHT - 16
        parts.append(
            Markup(
                '<rect x="%s" y="%s" width="12" height="12" fill="%s"/>'
                '<text x="%s" y="%s">%s</text>'
            )
            % (legend_x, legend_y - 10, colour, legend_x + 16, legend_y, escape(name))
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
