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
    """A caution the reader must not miss (a boxed alert in HTML, a quoted bold line in markdown)."""

    text: str


Block = Heading | Paragraph | Table | Figure | Code | Alert

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.1rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.88rem; }
th, td { border: 1px solid #d0d0d0; padding: 0.3rem 0.55rem; text-align: right; }
th { background: #f3f3f3; } td:first-child, td:nth-child(2), th:first-child, th:nth-child(2) { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.88rem; color: #555; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85rem; }
pre { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; }
summary { cursor: pointer; margin: 0.6rem 0; }
.warning { background: #fff4e5; border: 1px solid #e8a33d; border-left: 0.4rem solid #e8a33d; padding: 0.6rem 0.8rem;
           margin: 0.8rem 0; }
"""


def _markdown_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(_markdown_cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_markdown_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def to_markdown(blocks: list[Block]) -> str:
    """The blocks as GitHub-flavoured markdown (figures link the PNGs beside the file)."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append("#" * block.level + " " + block.text)
        elif isinstance(block, Paragraph):
            parts.append(f"**{block.text}**" if block.strong else block.text)
        elif isinstance(block, Alert):
            parts.append(f"> **Warning:** {block.text}")
        elif isinstance(block, Table):
            parts.append(_markdown_table(block.frame))
        elif isinstance(block, Figure):
            parts.append(f"![{block.caption}]({block.file})\n\n*{block.caption}*")
        elif isinstance(block, Code):
            fenced = f"```{block.language}\n{block.text.rstrip()}\n```"
            parts.append(
                f"<details><summary>{block.summary}</summary>\n\n{fenced}\n\n</details>" if block.summary else fenced
            )
    return "\n\n".join(parts) + "\n"


def _inline_html(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


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
            text = _inline_html(block.text)
            parts.append(f"<p><strong>{text}</strong></p>" if block.strong else f"<p>{text}</p>")
        elif isinstance(block, Alert):
            parts.append(
                f'<div class="warning" role="alert"><strong>Warning:</strong> {_inline_html(block.text)}</div>'
            )
        elif isinstance(block, Table):
            parts.append(block.frame.to_html(index=False, border=0, escape=True))
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
