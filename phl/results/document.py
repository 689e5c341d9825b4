"""A small document model (headings, paragraphs, bullet lists, tables) written as GitHub Markdown
(``results/tables/findings.md``) and as reStructuredText (the landing page of the Snakemake
report, which renders reStructuredText with docutils). Written by hand: the two formats need only
these four blocks, and the Markdown table writer is phl's own (:func:`phl.results.tables.to_markdown`
style, without the title)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Document:
    blocks: list[tuple[str, object]] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.blocks.append(("heading", text))

    def paragraph(self, text: str) -> None:
        if text:
            self.blocks.append(("paragraph", text))

    def bullets(self, items: list[str]) -> None:
        if items:
            self.blocks.append(("bullets", list(items)))

    def table(self, df: pd.DataFrame) -> None:
        if len(df):
            self.blocks.append(("table", df))

    def extend(self, other: Document) -> None:
        self.blocks.extend(other.blocks)


def cell(v) -> str:
    """A table cell: numbers with 3 significant decimals, – for missing values."""
    if v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v)):
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        return f"{v:.2e}" if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5) else f"{v:.3g}"
    return str(v) if str(v) else "–"


def _render(doc: Document, heading, bullet: str, table, text=str) -> str:
    out = []
    for kind, body in doc.blocks:
        if kind == "heading":
            out.append(heading(text(body)))
        elif kind == "paragraph":
            out.append(text(body))
        elif kind == "bullets":
            out.append("\n".join(bullet + text(item) for item in body))
        else:
            out.append(table(body))
    return "\n\n".join(out) + "\n"


def _markdown_table(df: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _rst_table(df: pd.DataFrame) -> str:
    lines = [".. list-table::", "   :header-rows: 1", ""]
    header = [escape_rst(c) for c in df.columns]
    for row in [header, *([escape_rst(cell(v)) for v in r] for r in df.itertuples(index=False))]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {v}" for v in row[1:]]
    return "\n".join(lines)


def escape_rst(text: str) -> str:
    """Text with reStructuredText's inline markup characters other than ``**`` made literal."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`").replace("_ ", "\\_ ")


def to_markdown(doc: Document, level: int = 2) -> str:
    return _render(doc, lambda t: f"{'#' * level} {t}", "- ", _markdown_table)


def to_rst(doc: Document, underline: str = "-") -> str:
    return _render(doc, lambda t: f"{t}\n{underline * (len(t) + 2)}", "* ", _rst_table, escape_rst)
