"""Data stay data: formulas, links, images and HTML in adverse-event terms (``PAYLOADS``,
delivered by a real AE file) never render as markup on a page and never run as formulas in a
CSV, XLSX, PDF or HTML; report folders are their owner's only.

References: OWASP, CSV Injection (cells starting with =, +, -, @, tab or CR); CommonMark 0.31
section 2.4 (backslash escapes).
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date
from html.parser import HTMLParser

import openpyxl
import pandas as pd
import people
import pytest
from payloads import PAYLOAD_SUBJECT, PAYLOADS
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from safety import store
from safety.escaping import md, neutralise_frame, plotly_text
from safety.report import generate_report
from safety.report.csv_files import frame_csv
from safety.report.xlsx import frame_xlsx

APP = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "dashboard.py")
CUTOFF = date(2021, 1, 15)
FORMULAS = [p for p in PAYLOADS if p[0] in "=+-@"]


def test_1_markdown_escaping_leaves_no_link_image_html_or_autolink():
    for payload in PAYLOADS:
        text = md(payload)
        assert not re.search(r"(?<!\\)[\[\]<>]", text), text  # no unescaped bracket or tag
        assert "http://" not in text and "www." not in text.lower()  # no autolink left
    assert md("- a list item") == r"\- a list item" and md("2. item") == r"2\. item"
    assert md("line one\nline two") == "line one line two"
    assert plotly_text("<a href='x'>y</a> & co") == "&lt;a href='x'&gt;y&lt;/a&gt; &amp; co"


def test_2_csv_and_xlsx_quote_formula_like_text_and_keep_numbers():
    frame = pd.DataFrame({"term": [*PAYLOADS, "\tTab", "\rCR", "ok"],
                          "n": range(len(PAYLOADS) + 3)})  # fmt: skip
    frame["delta"] = -1.5  # a negative number is a number, not a formula
    csv = pd.read_csv(io.BytesIO(frame_csv(frame)), keep_default_na=False)
    quoted = {p: "'" + p for p in [*FORMULAS, "\tTab", "\rCR"]}
    assert csv["term"].tolist() == [quoted.get(p, p) for p in frame["term"]]
    assert (csv["delta"] == -1.5).all()
    assert neutralise_frame(frame[["n", "delta"]]) is not None
    book = openpyxl.load_workbook(io.BytesIO(frame_xlsx(frame, "t")))
    sheet = book.active
    cells = {c.value: c for c in sheet["A"][1:]}
    for payload in PAYLOADS:
        cell = cells[payload]  # the text as delivered, stored as a string
        assert cell.data_type == "s"
        assert cell.quotePrefix == (payload in FORMULAS)
    assert not sheet._hyperlinks and sheet["C2"].value == -1.5
    with zipfile.ZipFile(io.BytesIO(frame_xlsx(frame, "t"))) as xlsx:
        assert "<f>" not in xlsx.read("xl/worksheets/sheet1.xml").decode()  # no formula


@pytest.fixture(scope="module")
def closed_report(payload_db, tmp_path_factory):
    folder = tmp_path_factory.mktemp("payload-report")
    return generate_report("NCT04232592", CUTOFF, folder, "closed", db=payload_db,
                           user=people.SAFETY_OFFICER)  # fmt: skip


def test_3_the_dsmb_report_keeps_the_payloads_as_text_in_every_file(closed_report, payload_db):
    folder = closed_report.folder
    with store.read_connection(payload_db) as con:
        delivered = {p for (p,) in con.execute("SELECT DISTINCT pt FROM current_adverse_event")
                     .fetchall() if p in FORMULAS}  # fmt: skip
    cells = set()
    for path in (folder / "tables").glob("*.csv"):
        cells |= set(pd.read_csv(path, dtype=str, keep_default_na=False).to_numpy().ravel())
    assert not cells & set(FORMULAS)  # no formula a spreadsheet would run ...
    assert len(delivered) >= 4 and {"'" + p for p in delivered} <= cells  # ... quoted as text
    assert "[Click here](http://evil.example/phish)" in cells  # markup: plain text in a CSV
    with zipfile.ZipFile(closed_report.file(".xlsx")) as xlsx:
        sheets = [n for n in xlsx.namelist() if n.startswith("xl/worksheets/sheet")]
        assert not any("<f>" in xlsx.read(n).decode() for n in sheets)
        rels = "".join(xlsx.read(n).decode() for n in xlsx.namelist() if n.endswith(".rels"))
        assert "evil.example" not in rels  # no external hyperlink anywhere
    page = closed_report.file(".html").read_text(encoding="utf-8")
    links = _links_and_images(page)  # only the page's own anchors and embedded figures
    assert links and all(u.startswith(("#", "data:image/png;base64,")) for u in links), links
    assert "&lt;a href='http://evil.io'&gt;x&lt;/a&gt;" in page  # shown as text
    pdf = PdfReader(closed_report.file(".pdf"))
    uris = [str(a.get_object().get("/A", {}).get("/URI")) for p in pdf.pages
            for a in (p.get("/Annots") or [])]  # fmt: skip
    assert not any("evil" in u for u in uris)
    text = "".join(p.extract_text() for p in pdf.pages)
    assert "=cmd|' /C calc'!A0" in text  # printed as it was delivered


def _links_and_images(page: str) -> list[str]:
    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend(v for k, v in attrs if k in ("href", "src"))
            assert tag not in ("script", "iframe"), tag

    Parser().feed(page)
    return found


def test_4_report_folders_are_their_owner_s_only(closed_report):
    assert closed_report.folder.stat().st_mode & 0o777 == 0o700
    modes = {p.stat().st_mode & 0o777 for p in closed_report.folder.rglob("*") if p.is_file()}
    assert modes == {0o600}


def _markup(at: AppTest) -> list[str]:
    """Every text of the page that Streamlit renders as markdown."""
    kinds = ("markdown", "caption", "error", "warning", "info", "success", "expander", "metric",
             "subheader", "title")  # fmt: skip
    texts = []
    for kind in kinds:
        for element in at.get(kind):
            texts += [getattr(element, a, None) for a in ("value", "label")]
    return [t for t in texts if isinstance(t, str)]


@pytest.mark.parametrize("page, params", [
    ("pages/patient.py", {"subject": PAYLOAD_SUBJECT}),
    ("pages/alerts.py", {}),
])  # fmt: skip
def test_5_pages_show_the_payloads_as_typed_never_as_markup(payload_db, monkeypatch, page, params):
    monkeypatch.setenv("SAFETY_DB", str(payload_db))
    at = people.signed_in(AppTest.from_file(APP, default_timeout=120)).run()
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(page).run()
    assert not at.exception, at.exception
    shown = _markup(at)
    assert any(p in people.plain(t) for p in PAYLOADS for t in shown)  # they are on the page
    for text in shown:
        # no markdown link or image but the dashboard's own ("[open](patient?...)")
        assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\((?!patient\?|escalation\?)", text), text
        assert not re.search(r"(?<!\\)<(img|a)\b", text), text  # no HTML
        assert "http://" not in text, text  # no autolink
