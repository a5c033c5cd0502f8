"""The report as a list of blocks, rendered to markdown and to one self-contained HTML file.

Both renderings come from the same blocks (and the same table frames), so report.md and
report.html cannot disagree. The HTML embeds its figures as base64 data URIs and carries its
stylesheet inline: it is one file that opens anywhere, without the PNGs beside it.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Heading:
    """A section heading of the given level."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """Plain text; `backticks` mark code. A `strong` paragraph is a warning, set in bold."""

    text: str
    strong: bool = False


@dataclass(frozen=True)
class Table:
    """A frame of display strings; its column names are the header."""

    frame: pd.DataFrame


@dataclass(frozen=True)
class Figure:
    """A PNG in the report directory, by file name."""

    file: str
    caption: str


@dataclass(frozen=True)
class Code:
    """Preformatted text; with a `summary` it is folded away under that line."""

    text: str
    language: str = ""
    summary: str | None = None


@dataclass(frozen=True)
class Alert:
    """A caution the reader must not miss (a boxed alert in HTML, a quoted bold line in markdown). Its `details`, the
    long part, are folded away under it in HTML (`<details>`); markdown points to them in the Notes at the end."""

    text: str
    details: str | None = None


@dataclass(frozen=True)
class Bullets:
    """A list of short paragraphs (a strong one is set in bold)."""

    items: tuple[Paragraph, ...]


Block = Heading | Paragraph | Table | Figure | Code | Alert | Bullets

# Where markdown collects the alerts' details (a heading at the end of the document, and its anchor).
NOTES = "Notes"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 80rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
p, ul, .warning, figcaption { max-width: 72rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.1rem; }
.table { overflow-x: auto; margin: 0.8rem 0; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #d0d0d0; padding: 0.3rem 0.5rem; text-align: left; }
th { background: #f3f3f3; } tr:nth-child(even) td { background: #fafafa; }
th.number, td.number { text-align: right; } td.number { white-space: nowrap; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.88rem; color: #555; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85rem; }
pre { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; }
summary { cursor: pointer; margin: 0.6rem 0; }
.warning { background: #fff4e5; border: 1px solid #e8a33d; border-left: 0.4rem solid #e8a33d; padding: 0.6rem 0.8rem;
           margin: 0.8rem 0; }
.warning details, .warning summary { margin: 0.3rem 0 0; }
"""


def _markdown_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(_markdown_cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_markdown_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _markdown_text(paragraph: Paragraph) -> str:
    return f"**{paragraph.text}**" if paragraph.strong else paragraph.text


def to_markdown(blocks: list[Block]) -> str:
    """The blocks as GitHub-flavoured markdown (figures link the PNGs beside the file; the alerts' details are
    listed in a Notes section at the end, which each alert points to)."""
    parts, notes = [], []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append("#" * block.level + " " + block.text)
        elif isinstance(block, Paragraph):
            parts.append(_markdown_text(block))
        elif isinstance(block, Alert):
            if block.details:
                notes.append(block.details)
                parts.append(
                    f"> **Warning:** {block.text} (Details: [note {len(notes)}](#{NOTES.lower()}) at the end.)"
                )
            else:
                parts.append(f"> **Warning:** {block.text}")
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"- {_markdown_text(item)}" for item in block.items))
        elif isinstance(block, Table):
            parts.append(_markdown_table(block.frame))
        elif isinstance(block, Figure):
            parts.append(f"![{block.caption}]({block.file})\n\n*{block.caption}*")
        elif isinstance(block, Code):
            fenced = f"```{block.language}\n{block.text.rstrip()}\n```"
            parts.append(
                f"<details><summary>{block.summary}</summary>\n\n{fenced}\n\n</details>" if block.summary else fenced
            )
    if notes:
        parts += [f"## {NOTES}", "\n".join(f"{index}. {note}" for index, note in enumerate(notes, start=1))]
    return "\n\n".join(parts) + "\n"


def _inline_html(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _html_text(paragraph: Paragraph) -> str:
    text = _inline_html(paragraph.text)
    return f"<strong>{text}</strong>" if paragraph.strong else text


# A table cell that holds numbers and no words (`0.8917 ± 0.0382`, `4.00 [3.60–4.40]`, `1,000`).
_NUMBER_CELL = re.compile(r"[^A-Za-z]*[0-9][^A-Za-z]*")
# An empty cell (no value), aligned as its column.
_NONE = "–"


def _is_number(text: str) -> bool:
    """A number cell: right-aligned and kept on one line (a list of numbers, `1.0, 2.0`, may wrap between them)."""
    return bool(_NUMBER_CELL.fullmatch(text)) and ", " not in text


def _html_cell(text: str, tag: str, number: bool) -> str:
    return f'<{tag} class="number">{html.escape(text)}</{tag}>' if number else f"<{tag}>{html.escape(text)}</{tag}>"


def _html_table(frame: pd.DataFrame) -> str:
    """A frame of display strings as an HTML table: number cells right-aligned and unbroken (and the header of a
    column of them right-aligned), text left-aligned; a table wider than the page scrolls in its own box (the page
    never scrolls sideways)."""
    cells = [[str(value) for value in row] for row in frame.itertuples(index=False)]
    columns = [
        any(_is_number(row[index]) for row in cells)
        and all(_is_number(row[index]) or row[index] == _NONE for row in cells)
        for index in range(len(frame.columns))
    ]
    numbers = [[_is_number(text) or (text == _NONE and column) for text, column in zip(row, columns)] for row in cells]
    head = "".join(_html_cell(str(name), "th", number) for name, number in zip(frame.columns, columns))
    body = "\n".join(
        "<tr>" + "".join(_html_cell(text, "td", number) for text, number in zip(row, flags)) + "</tr>"
        for row, flags in zip(cells, numbers)
    )
    return f'<div class="table"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table></div>'


def _image_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def to_html(blocks: list[Block], title: str, directory: str | Path) -> str:
    """The blocks as one self-contained HTML page; figures are read from `directory` and embedded."""
    directory = Path(directory)
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{_html_text(block)}</p>")
        elif isinstance(block, Alert):
            details = (
                f"<details><summary>Details</summary>{_inline_html(block.details)}</details>" if block.details else ""
            )
            parts.append(
                f'<div class="warning" role="alert"><strong>Warning:</strong> {_inline_html(block.text)}{details}</div>'
            )
        elif isinstance(block, Bullets):
            parts.append("<ul>" + "".join(f"<li>{_html_text(item)}</li>" for item in block.items) + "</ul>")
        elif isinstance(block, Table):
            parts.append(_html_table(block.frame))
        elif isinstance(block, Figure):
            parts.append(
                f'<figure><img src="{_image_uri(directory / block.file)}" alt="{html.escape(block.caption)}">'
                f"<figcaption>{_inline_html(block.caption)}</figcaption></figure>"
            )
        elif isinstance(block, Code):
            pre = f"<pre><code>{html.escape(block.text.rstrip())}</code></pre>"
            parts.append(
                f"<details><summary>{_inline_html(block.summary)}</summary>{pre}</details>" if block.summary else pre
            )
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
