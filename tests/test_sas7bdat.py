"""SAS datasets (.sas7bdat) in (issue 18): read with their formats, in chunks; a truncated or
false file is refused with one line, as by every reader.

Data: tests/data/sas7bdat/sample.sas7bdat, written by SAS for pyreadstat's tests (credit and
licence in that folder's README); the expected values are pyreadstat's
test_data/basic/sample.csv, copied below. The CDISC pilot's DM and AE as .sas7bdat (converted
from its XPT by R's haven, same folder) must load as the XPT files do.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import people
import pytest
from click.testing import CliRunner

from safety import store
from safety.cli.ingest import ingest
from safety.ingest import ingest_paths, readers
from safety.ingest.readers import read_dataset, read_head

SAMPLE = Path(__file__).parent / "data" / "sas7bdat" / "sample.sas7bdat"
PILOT_AE = Path(__file__).parent / "data" / "cdiscpilot01" / "ae.csv"
# pyreadstat test_data/basic/sample.csv (the values SAS wrote; produce_samples.sas)
EXPECTED = [
    ("a", 1.1, date(2018, 5, 6), datetime(2018, 5, 6, 10, 10, 10), 1.0, 1.0, time(10, 10, 10)),
    ("b", 1.2, date(1880, 5, 6), datetime(1880, 5, 6, 10, 10, 10), 2.0, 2.0, time(23, 10, 10)),
    ("c", -1000.3, date(1960, 1, 1), datetime(1960, 1, 1), 1.0, 3.0, time(0, 0, 0)),
    ("d", -1.4, date(1583, 1, 1), datetime(1583, 1, 1), 2.0, 1.0, time(16, 10, 10)),
]


def test_1_a_sas_dataset_is_read_with_its_formats_in_chunks(monkeypatch):
    monkeypatch.setattr(readers, "SAS_CHUNK_ROWS", 2)  # 5 rows in 3 chunks, put back together
    raw = read_dataset(SAMPLE)
    assert (raw.format, raw.name, raw.frame.shape) == ("sas7bdat", "SAMPLE", (5, 7))
    assert list(raw.frame.columns) == ["MYCHAR", "MYNUM", "MYDATE", "DTIME", "MYLABL",
                                       "MYORD", "MYTIME"]
    rows = [tuple(r) for r in raw.frame.head(4).itertuples(index=False)]
    got = [(c, n, d, pd_dt.to_pydatetime(), lab, o, t) for c, n, d, pd_dt, lab, o, t in rows]
    assert got == EXPECTED
    last = raw.frame.iloc[4]
    assert last["MYCHAR"] == "e" and last["MYNUM"] == 1000.3
    assert last[["MYDATE", "DTIME", "MYTIME"]].isna().all()  # missing in SAS, missing here


def test_2_the_content_decides_not_the_name(tmp_path):
    fake = tmp_path / "ae.sas7bdat"
    fake.write_bytes(PILOT_AE.read_bytes())
    with pytest.raises(Exception, match=r"ae.sas7bdat is not a SAS dataset \(sas7bdat\) file "
                                         r"\(its content looks like CSV\)"):
        read_dataset(fake)
    renamed = tmp_path / "sample.dat"  # unknown extension: recognised by its magic number
    renamed.write_bytes(SAMPLE.read_bytes())
    assert read_dataset(renamed).format == "sas7bdat"
    assert read_head(SAMPLE, rows=2).frame.shape == (2, 7)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """An empty database (nothing here loads into it)."""
    path = tmp_path_factory.mktemp("sas") / "sas.duckdb"
    with store.new_database(path):
        pass
    return path


@pytest.mark.parametrize("keep", [70_000, 65_536, 1_000])  # inside a page, at one, the header
def test_3_a_truncated_copy_is_refused_with_one_line(db, tmp_path, keep):
    cut = tmp_path / "ae.sas7bdat"
    cut.write_bytes(SAMPLE.read_bytes()[:keep])
    (result,) = ingest_paths([cut], db=db, user=people.DATA_MANAGER)
    assert result.status == "rejected"
    assert result.reason == "ae.sas7bdat cannot be read as SAS dataset (sas7bdat): malformed content"
    run = CliRunner().invoke(ingest, [str(cut), "--db", str(db)])
    assert run.exit_code == 2, run.output
    (line,) = run.stderr.strip().splitlines()
    assert result.reason in line


def test_4_a_sas_dataset_that_is_not_sdtm_is_refused_by_the_same_rules(db):
    (result,) = ingest_paths([SAMPLE], db=db, user=people.DATA_MANAGER)
    assert result.status == "rejected"
    assert result.reason.startswith("sample.sas7bdat does not say its SDTM domain (no DOMAIN)")


PILOT = Path(__file__).parent / "data" / "cdiscpilot01"
SAS_PILOT = [SAMPLE.parent / "cdiscpilot01_dm.sas7bdat", SAMPLE.parent / "cdiscpilot01_ae.sas7bdat"]


def test_5_an_sdtm_sas_dataset_loads_as_its_xpt_does(tmp_path):
    """The pilot's DM and AE as .sas7bdat (converted from its XPT, README beside them) read to
    the XPT's values and load to the same subjects and adverse events as the XPT files."""
    for sas, xpt in zip(SAS_PILOT, (PILOT / "dm.xpt", PILOT / "ae.xpt"), strict=True):
        assert read_dataset(sas).frame.equals(read_dataset(xpt).frame)
    loaded = {}
    for kind, files in (("sas7bdat", SAS_PILOT), ("xpt", [PILOT / "dm.xpt", PILOT / "ae.xpt"])):
        path = tmp_path / f"{kind}.duckdb"
        with store.new_database(path):
            pass
        results = ingest_paths(list(reversed(files)), db=path, user=people.DATA_MANAGER)
        assert [r.status for r in results] == ["loaded", "loaded"], [r.reason for r in results]
        with store.read_connection(path) as con:
            loaded[kind] = (
                con.execute("SELECT * EXCLUDE (batch_id) FROM current_subject ORDER BY usubjid").df(),
                con.execute("SELECT * EXCLUDE (batch_id) FROM current_adverse_event "
                            "ORDER BY usubjid, seq").df(),
            )  # fmt: skip
    (dm_sas, ae_sas), (dm_xpt, ae_xpt) = loaded["sas7bdat"], loaded["xpt"]
    assert len(dm_sas) == 306 and len(ae_sas) == 1191  # every DM row (254 are in ADSL), every AE
    assert dm_sas.equals(dm_xpt) and ae_sas.equals(ae_xpt)
