"""The one Jinja2 setup of every HTML page mailops writes: the dashboard's pages and the
weekly report's file.

Autoescape is on, and every `{{ ... }}` passes through `shown` (Jinja2's finalize), the
escaper of mailops.report.escape: markup is escaped and invisible characters (bidi controls,
zero-width characters) show as their markers, which autoescape alone would let through. The
shared templates (templates/: the chart macro and the weekly report) sit behind each caller's
own folder, so a page of the dashboard and the weekly report draw charts with one macro.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from mailops.report.escape import html_text

TEMPLATES = Path(__file__).parent / "templates"


def shown(value: object) -> Markup:
    """Every `{{ ... }}` of the templates (Jinja2's finalize): escaped by `html_text`, so
    invisible characters show as their markers too; autoescape alone would let a U+202E
    through. A macro's or a filter's Markup is already shown and passes as is."""
    return value if isinstance(value, Markup) else Markup(html_text(value))


def environment(*folders: Path) -> Environment:
    """The Environment of every HTML page: templates from `folders` first, then the shared
    ones; autoescape on; every expression through `shown`. Text from an API is given to the
    templates as it is stored and escaped here, never before."""
    return Environment(loader=FileSystemLoader([*folders, TEMPLATES]), autoescape=True,
                       finalize=shown)
