"""``netknit graph``: the lab drawn, live (a page served with its data) or exported
(one HTML file, mermaid, dot, draw.io).

- ``_data``: the model (and ``inspect``'s view) as containerlab's graph data. Pure.
- ``_export``: mermaid, dot and draw.io text. Pure.
- ``_page``: the page (its files ship in the wheel: ``static/``), as one file too.
- ``_live``: the deployed lab's data now; ``_server``: the page's HTTP server.

``static/d3.min.js`` is d3 7.9.2 as npm ships it (``npm pack d3@7.9.2``: dist/), its ISC
license in ``static/d3.LICENSE.txt``.
"""

from ._data import LINK_STATES, NOT_APPLICABLE, graph_data, only_nodes
from ._export import MERMAID_DIRECTIONS, SUFFIXES, dot, drawio, export, mermaid
from ._page import default_template, offline_html, render

__all__ = [
    "LINK_STATES",
    "MERMAID_DIRECTIONS",
    "NOT_APPLICABLE",
    "SUFFIXES",
    "default_template",
    "dot",
    "drawio",
    "export",
    "graph_data",
    "mermaid",
    "offline_html",
    "only_nodes",
    "render",
]
