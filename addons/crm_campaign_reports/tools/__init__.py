from . import svg_chart
