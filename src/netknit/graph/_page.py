"""The page: containerlab's template fields filled in, and the page as one file."""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from typing import Any

#: the files of the page, shipped in the wheel (package data)
STATIC = ("graph.css", "graph.js", "d3.min.js", "d3.LICENSE.txt")


def static_file(name: str) -> bytes | None:
    """One of the page's files; None for any other name."""
    if name not in STATIC:
        return None
    return resources.files(__package__).joinpath("static", name).read_bytes()


def default_template() -> str:
    return resources.files(__package__).joinpath("static", "index.html").read_text()


def _js_json(value: Any) -> str:
    """JSON that can stand inside a <script> element: no ``</script>``, no ``<!--``."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace(
        "&", "\\u0026")


def render(template: str, data: dict[str, Any]) -> str:
    """Fill in containerlab's two template fields: ``{{ .Name }}`` (the lab's name) and
    ``{{ .Data }}`` (the graph data; inside quotes, as containerlab's own template has
    it, a JSON string to parse; else a JavaScript object)."""
    def fill(match: re.Match[str]) -> str:
        if match.group(1):  # '{{ .Data }}'
            return _js_json(json.dumps(data))
        return html.escape(data["name"]) if match.group(2) == "Name" else _js_json(data)

    # one pass: what was filled in is never read as a field again
    return re.sub(r"('\{\{\s*\.Data\s*\}\}')|\{\{\s*\.(Name|Data)\s*\}\}", fill, template)


def offline_html(data: dict[str, Any]) -> str:
    """The page as one file: the data and every script and style inline, nothing fetched."""
    def body(match: re.Match[str]) -> str:
        return (static_file(match.group(1)) or b"").decode()

    page = render(default_template(), data)
    page = re.sub(r'<link rel="stylesheet" href="static/([\w.]+)">',
                  lambda m: f"<style>\n{body(m)}</style>", page)
    return re.sub(r'<script src="static/([\w.]+)"></script>',
                  lambda m: "<script>\n" + body(m).replace("</script", "<\\/script")
                  + "\n</script>", page)
