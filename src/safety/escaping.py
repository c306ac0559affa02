"""Data values made inert wherever they are shown or exported: no link, image or HTML from
data ever renders, no spreadsheet formula from data ever runs.

- :func:`md`: a value inside Streamlit markdown (``st.markdown``, captions, alerts, expander
  labels, metrics): the characters that make links, images, HTML, entities, emphasis, code,
  maths and Streamlit's ``:red[...]`` / ``:material/...:`` directives are backslash-escaped
  (CommonMark 2.4); GFM's autolinks are found in the text after escapes are resolved, so an
  invisible WORD JOINER (U+2060) goes into each ``://``, ``www.`` and ``@``, which no longer
  match; line breaks become spaces and a leading list or quote marker is escaped, so a value
  cannot start a block. Rendered, the text reads as typed.
- :func:`plotly_text`: a value in a plotly figure, whose text understands a few HTML tags
  (``<a href>``, ``<b>``, ``<br>``) and entities: ``&``, ``<``, ``>`` become entities, which
  plotly shows as the characters.
- :func:`spreadsheet_text` and :func:`neutralise_frame`: a text cell that starts with ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` in CSV (the OWASP CSV
  injection guidance), so Excel, LibreOffice and Sheets read it as text; the XLSX writers store
  such cells as strings with Excel's quote prefix and never as formulas or links
  (``safety.report.xlsx``).
- :func:`message_text`: a value in an e-mail or a webhook's JSON (which chat tools render as
  markup): one line, no control characters, ``&``, ``<``, ``>`` as entities (Slack's and HTML's
  escapes), no autolink, and formula-like text quoted as in CSV.

References
----------
OWASP, CSV Injection (https://owasp.org/www-community/attacks/CSV_Injection). CommonMark
spec 0.31, section 2.4 (backslash escapes). plotly.js ``svg_text_utils`` (the tags and
entities plotly text renders).
"""

from __future__ import annotations

import re

import pandas as pd

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_~\[\]<>&:@|$#])")
_AUTOLINK_STARTS = re.compile(r"(?i)(:(?=//)|www(?=\\?\.)|@)")  # http://, www., e-mail
WORD_JOINER = "\u2060"
_LIST_OR_QUOTE = re.compile(r"^(\s*)([-+=>])")  # a bullet, a quote, a setext underline
_ORDERED_ITEM = re.compile(r"^(\s*\d{1,9})([.)])(?=\s|$)")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def md(value: object) -> str:
    """A data value as literal text inside Streamlit markdown (None and NaN: empty)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(value)))
    text = _AUTOLINK_STARTS.sub(lambda m: m.group(1) + WORD_JOINER, text)
    text = _LIST_OR_QUOTE.sub(r"\1\\\2", text, count=1)
    return _ORDERED_ITEM.sub(r"\1\\\2", text, count=1)


def plotly_text(value: object) -> object:
    """A data value as literal text in a plotly figure (non-text values unchanged)."""
    if not isinstance(value, str):
        return value
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message_text(value: object) -> str:
    """A data value as inert text in a notification (None and NaN: empty)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = _CONTROL.sub("", _LINE_BREAKS.sub(" ", str(value)))
    text = plotly_text(text)
    return str(spreadsheet_text(_AUTOLINK_STARTS.sub(lambda m: m.group(1) + WORD_JOINER, text)))


def is_formula_like(value: object) -> bool:
    """Whether a spreadsheet would read this text as a formula (OWASP's starting characters)."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def spreadsheet_text(value: object) -> object:
    """A CSV cell: text a spreadsheet would read as a formula gets a leading ``'``."""
    return "'" + value if is_formula_like(value) else value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every formula-like text cell and column name quoted (for CSV);
    numbers, dates and other text are unchanged. Returns the frame itself when nothing is."""
    columns = [c for c in frame.columns if _has_text(frame[c])]
    risky = [c for c in columns if frame[c].map(is_formula_like).any()]
    names = {c: spreadsheet_text(c) for c in frame.columns if is_formula_like(c)}
    if not risky and not names:
        return frame
    out = frame.copy()
    for c in risky:
        out[c] = frame[c].map(spreadsheet_text).astype(object)
    return out.rename(columns=names)


def _has_text(column: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(column) or column.dtype == object or isinstance(
        column.dtype, pd.CategoricalDtype
    )
