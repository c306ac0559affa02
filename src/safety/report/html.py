"""The report as one self-contained HTML page for the screen: inline CSS and PNG figures
(base64 data URIs), no scripts, no external links, so it opens offline and its bytes depend
only on the content."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path

from safety.report.tables import SECTIONS, ReportContent, display_frame

_CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:2rem auto;max-width:1200px;color:#222;
     font-size:14px;line-height:1.4;padding:0 1rem}
h1{font-size:1.7rem;margin-bottom:.2rem} h2{border-bottom:2px solid #2171b5;padding-bottom:.2rem;
margin-top:2.2rem} h3{font-size:1.05rem;margin:1.4rem 0 .3rem}
.marking{font-weight:bold;padding:.4rem .7rem;display:inline-block;border-radius:4px}
.closed{background:#fbe3e3;color:#7a1010} .open{background:#e3ecfb;color:#1e3c78}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:12px}
th,td{border:1px solid #ccd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#dee8f5} tr:nth-child(even) td{background:#f6f8fb}
table.facts td{border:none;padding:2px 10px 2px 0} .note{color:#555;font-size:12px;margin:0}
img{max-width:100%;border:1px solid #eee} nav li{margin:.1rem 0}
"""


def _anchor(key: str) -> str:
    return "t-" + "".join(ch if ch.isalnum() else "-" for ch in key.lower())


def report_html(
    content: ReportContent, images: Mapping[str, bytes], facts: Mapping[str, str]
) -> str:
    """The whole page as a string."""
    e = html.escape
    closed = content.kind == "closed"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(content.study_id)} DSMB {content.kind} report, cut-off {content.cutoff}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<p class="marking {content.kind}">'
        + ("CLOSED REPORT: for the members of the Data and Safety Monitoring Board only"
           if closed else "OPEN REPORT: aggregate data, no comparison between cohorts")
        + "</p>",
        f"<h1>{e(content.study_id)}: DSMB report</h1><p>{e(content.title)}</p>",
        '<table class="facts">',
        f"<tr><td><b>Data cut-off</b></td><td>{content.cutoff:%d %B %Y} "
        "(records dated on or before this day)</td></tr>",
        *(f"<tr><td><b>{e(k)}</b></td><td>{e(str(v))}</td></tr>" for k, v in facts.items()),
        "</table>",
    ]  # fmt: skip
    if content.dose_note:
        out.append(f"<p class='note'>Note: {e(content.dose_note)}</p>")
    out.append("<nav><h2>Contents</h2><ul>")
    for section in SECTIONS:
        entries = [t for t in content.tables if t.section == section]
        entries_f = [f for f in content.figures if f.section == section]
        if not entries and not entries_f:
            continue
        out.append(f"<li><a href='#{_anchor(section)}'>{e(section)}</a><ul>")
        out += [f"<li><a href='#{_anchor(t.key)}'>{e(t.title)}</a></li>" for t in entries]
        out += [
            f"<li><a href='#{_anchor('fig-' + f.key)}'>Figure: {e(f.title)}</a></li>"
            for f in entries_f
        ]
        out.append("</ul></li>")
    out.append("</ul></nav>")
    out.append(f"<h2>About this report</h2><p>{e(content.design_description)}</p>")
    if content.recommendation:
        out.append(f"<p><b>Recommendation for the next patients:</b> {e(content.recommendation)}</p>")
    for section in SECTIONS:
        tables = [t for t in content.tables if t.section == section]
        figures = [f for f in content.figures if f.section == section]
        if not tables and not figures:
            continue
        out.append(f"<h2 id='{_anchor(section)}'>{e(section)}</h2>")
        for table in tables:
            out.append(f"<h3 id='{_anchor(table.key)}'>{e(table.title)}</h3>")
            if table.note:
                out.append(f"<p class='note'>{e(table.note)}</p>")
            if table.frame.empty:
                out.append("<p>None at the cut-off.</p>")
            else:
                out.append(display_frame(table.frame).to_html(index=False, border=0))
        for figure in figures:
            png = images.get(figure.key)
            if png is None:
                continue
            data = base64.b64encode(png).decode("ascii")
            out.append(f"<h3 id='{_anchor('fig-' + figure.key)}'>Figure: {e(figure.title)}</h3>")
            out.append(f"<img alt='{e(figure.title)}' src='data:image/png;base64,{data}'>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_html(
    content: ReportContent, path: Path, images: Mapping[str, bytes], facts: Mapping[str, str]
) -> Path:
    """Write the page to ``path`` (UTF-8)."""
    path.write_text(report_html(content, images, facts), encoding="utf-8")
    return path
