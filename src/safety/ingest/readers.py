"""Readers: one delivered file -> a raw table of SDTM variables, values as delivered.

One reader per format, chosen by the file name's extension and checked against the content
(a ``.xpt`` that holds CSV is refused, not guessed at). Every failure to read a file at all
(truncated, wrong encoding, not its format, empty, nested too deeply) becomes an
:class:`IngestError` with one sentence; bad *rows* are not the readers' business (see
``validate.py``). The sentence never quotes the file's bytes (a parser's message often does): only
positions, counts and names that look like SDTM identifiers, so a reason written next to a
delivery (the watcher's ``.reason.txt``) cannot carry a line of some other file.

Formats
-------
- SAS transport v5 (``.xpt``) via pyreadstat.
- SAS datasets (``.sas7bdat``) via pyreadstat, read in chunks of :data:`SAS_CHUNK_ROWS` rows,
  with their formats applied (a DATE/DATETIME/TIME format gives a date, date-time or time)
  and their variable labels kept (``RawDataset.labels``). A file that ends early is refused.
- CSV (``.csv``): UTF-8 (a BOM is allowed), header row, every value read as text.
- CDISC Dataset-JSON v1.1 (``.json``) and its NDJSON form (``.ndjson``, ``.jsonl``): the first
  line holds the metadata, each further line one row. UTF-8, a byte-order mark allowed.
- Parquet (``.parquet``, ``.pq``).

A large file (Parquet or XPT over :data:`CHUNK_ROWS` rows, CSV over :data:`STREAM_BYTES`) is not
read whole: :func:`read_dataset` returns its first rows (``frame``) and ``chunks``, which reads
it again in chunks of :data:`CHUNK_ROWS` rows as the same frames the whole-file reader gives, so
no more than one chunk of it is in memory (``load.py`` validates chunk by chunk).

References
----------
CDISC Dataset-JSON v1.1 specification, https://www.cdisc.org/standards/data-exchange/dataset-json
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pyreadstat

from safety.errors import IngestError

log = logging.getLogger(__name__)

EXTENSIONS = {
    ".xpt": "xpt", ".csv": "csv", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson",
    ".parquet": "parquet", ".pq": "parquet", ".sas7bdat": "sas7bdat",
}
SAS_CHUNK_ROWS = 100_000  # rows per chunk read from a .sas7bdat (memory, not speed)
# The 32-byte magic number that opens every SAS7BDAT file (ReadStat, src/sas/readstat_sas.c)
_SAS7BDAT_MAGIC = (b"\x00" * 12 + b"\xc2\xea\x81\x60\xb3\x14\x11\xcf\xbd\x92\x08\x00"
                   b"\x09\xc7\x31\x8c\x18\x1f\x10\x11")
_XPT_MAGIC = b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"
_XPT_V8_MAGIC = b"HEADER RECORD*******LIBV8   HEADER RECORD!!!!!!!"
_PARQUET_MAGIC = b"PAR1"
_XPT_OBS_HEADER = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!"
CHUNK_ROWS = 250_000  # rows read and validated at a time in a large file (~100 MB of frame)
STREAM_BYTES = 64 << 20  # a CSV larger than this is read in chunks
# Bytes per block of a streamed CSV (a row must fit in one). Arrow parses blocks ahead on its
# threads and holds them: a 10M-row LB CSV peaked at 1,752 MB read in 32 MB blocks, 562 MB in
# 4 MB blocks (and read faster: 17.6 -> 12.8 s).
CSV_BLOCK_BYTES = 4 << 20
HEAD_ROWS = 1_000  # rows of a streamed file kept in RawDataset.frame
_READ_ERRORS = (pa.ArrowException, pyreadstat.ReadstatError, ValueError, OSError, UnicodeError,
                KeyError, TypeError, IndexError, AttributeError, OverflowError, csv.Error)


@dataclass(frozen=True, slots=True)
class RawDataset:
    """A delivered file as read: SDTM variables (upper-case names) with values as delivered.

    ``frame`` keeps what the format gives: text for CSV; text and floats for XPT; JSON values for
    Dataset-JSON; Arrow types for Parquet. ``name`` is the dataset name the file itself declares
    (XPT member name, Dataset-JSON ``name``), None for CSV and Parquet.

    A large file is streamed: ``frame`` holds its first :data:`HEAD_ROWS` rows and ``chunks``
    gives all of its rows, chunk by chunk (each indexed by its rows' positions in the file);
    ``chunks`` is None when ``frame`` is the whole file. ``labels``: variable labels the file
    carries (SAS). After ``translate.to_sdtm``: ``translated_from`` says what was translated (an ADaM dataset, a study's mapping), ``delivered`` keeps the rows as
    delivered (what a quarantined row records) and ``sponsor`` holds the sponsor's ADaM
    derivations (``adam.sponsor_values``).
    """

    file_name: str
    sha256: str
    format: str
    name: str | None
    frame: pd.DataFrame
    chunks: Callable[[], Iterator[pd.DataFrame]] | None = None
    labels: dict[str, str] | None = None
    translated_from: str | None = None
    delivered: pd.DataFrame | None = None
    sponsor: pd.DataFrame | None = None

    @property
    def streamed(self) -> bool:
        return self.chunks is not None

    def all_rows(self) -> RawDataset:
        """The dataset with every row in ``frame`` (a streamed one read whole)."""
        if self.chunks is None:
            return self
        return replace(self, frame=pd.concat(list(self.chunks())), chunks=None)


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file's bytes (hex), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sniff_format(head: bytes) -> str:
    """The format the first bytes of a file look like: xpt, parquet, json, ndjson or csv."""
    if head.startswith((_XPT_MAGIC, _XPT_V8_MAGIC)):
        return "xpt"
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.startswith(_SAS7BDAT_MAGIC):
        return "sas7bdat"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        first, _, rest = text.partition(b"\n")
        ndjson = rest.lstrip().startswith(b"[") and first.rstrip().endswith(b"}")
        return "ndjson" if ndjson else "json"
    return "csv"


def format_of(path: Path, display_name: str | None = None) -> str:
    """The format of a delivered file: its extension, confirmed by its first bytes.

    Raises
    ------
    IngestError
        When the content is not the format the extension names, or the extension is unknown and
        the content is not recognisable.
    """
    name = display_name or path.name
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head.strip():
        raise IngestError(f"{name} is empty")
    sniffed = sniff_format(head)
    claimed = EXTENSIONS.get(Path(name).suffix.lower())
    if claimed is None:
        return sniffed
    compatible = {claimed} | ({"json", "ndjson"} if claimed in {"json", "ndjson"} else set())
    if sniffed not in compatible:
        raise IngestError(f"{name} is not a {_FORMAT_NAMES[claimed]} file "
                          f"(its content looks like {_FORMAT_NAMES[sniffed]})")
    return claimed


def read_dataset(path: Path | str, display_name: str | None = None) -> RawDataset:
    """Read one delivered file into a :class:`RawDataset`.

    Parameters
    ----------
    path
        The file on disk.
    display_name
        The name to report (an upload's original name); defaults to the file's name.

    Raises
    ------
    IngestError
        When the file cannot be read at all; the message is one sentence naming the file.
    """
    path = Path(path)
    name = display_name or path.name
    fmt = format_of(path, name)
    sha = file_sha256(path)
    with _read_errors(name, fmt):
        streamer = _streamer(path, fmt)
        labels = None
        if streamer is None and fmt == "sas7bdat":
            dataset_name, frame, labels = _read_sas7bdat(path)
            labels = {str(k).strip().upper(): v for k, v in labels.items() if v} or None
        elif streamer is None:
            dataset_name, frame = _READERS[fmt](path)
        else:
            dataset_name, first = streamer()
            frame = next(first, pd.DataFrame()).head(HEAD_ROWS)
            first.close()
    frame = _named_columns(frame.reset_index(drop=True), name)
    if streamer is not None:
        log.info("read %s (%s) in chunks of %d rows: %d columns", name, fmt, CHUNK_ROWS,
                 frame.shape[1])
        return RawDataset(name, sha, fmt, dataset_name, frame,
                          chunks=lambda: _chunks(streamer, name, fmt))
    log.info("read %s (%s): %d rows, %d columns", name, fmt, len(frame), frame.shape[1])
    return RawDataset(file_name=name, sha256=sha, format=fmt, name=dataset_name, frame=frame,
                      labels=labels)


@contextmanager
def _read_errors(name: str, fmt: str) -> Iterator[None]:
    """Any failure to read a file becomes an IngestError with one sentence naming it."""
    try:
        yield
    except IngestError as exc:
        raise IngestError(f"{name}: {exc}") from exc
    except RecursionError as exc:
        raise IngestError(f"{name} cannot be read as {_FORMAT_NAMES[fmt]}: it nests values "
                          "too deeply") from exc
    except _READ_ERRORS as exc:
        raise IngestError(f"{name} cannot be read as {_FORMAT_NAMES[fmt]}: "
                          f"{safe_detail(exc)}") from exc


def _named_columns(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Column names as SDTM variables (stripped, upper-case); refused when one repeats."""
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    dupes = sorted(c for c, n in Counter(frame.columns).items() if n > 1)
    if dupes:
        raise IngestError(f"{name} has the column(s) {', '.join(map(identifier, dupes))} "
                          "more than once")
    return frame


def _chunks(streamer: Callable[[], tuple[str | None, Iterator[pd.DataFrame]]], name: str,
            fmt: str) -> Iterator[pd.DataFrame]:
    """Every row of a streamed file, chunk by chunk, indexed by position in the file."""
    start = 0
    with _read_errors(name, fmt):
        _, frames = streamer()
        for frame in frames:
            frame = _named_columns(frame, name)
            frame.index = pd.RangeIndex(start, start + len(frame))
            start += len(frame)
            yield frame


def _streamer(path: Path, fmt: str
              ) -> Callable[[], tuple[str | None, Iterator[pd.DataFrame]]] | None:
    """How to read a large file chunk by chunk (None: a small file, read whole)."""
    if fmt == "parquet" and pq.ParquetFile(path).metadata.num_rows > CHUNK_ROWS:
        return lambda: (None, _parquet_chunks(path))
    if fmt == "csv" and path.stat().st_size > STREAM_BYTES:
        return lambda: (None, _csv_chunks(path))
    if fmt == "xpt":
        _, meta = pyreadstat.read_xport(str(path), encoding="latin1", metadataonly=True)
        if meta.number_rows is not None and meta.number_rows > CHUNK_ROWS:
            _check_xpt_complete(path, meta.number_rows,
                                sum(meta.variable_storage_width.values()))
            return lambda: ((meta.table_name or None), _xpt_chunks(path))
    return None
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")
_SAFE_DETAILS = (  # what a parser's message may pass on: shapes and positions, never values
    re.compile(r"Expected \d+ columns, got \d+"),
    re.compile(r"(?:line|row|column|char|position|offset) \d+(?: column \d+)?", re.I),
)


def identifier(value: object) -> str:
    """``value`` when it looks like an SDTM name or code (STUDYID, DOMAIN, a variable), else a
    placeholder: messages name what a file declares without quoting arbitrary bytes of it."""
    text = str(value).strip()
    return text if _IDENTIFIER.fullmatch(text) else "(a value that is not an identifier)"


def safe_detail(exc: BaseException) -> str:
    """Why a parser failed, without the file content its message may quote.

    Keeps the kind of error and the positions or column counts it gives (``invalid JSON at
    line 3 column 7``, ``Expected 35 columns, got 2``); drops everything else.
    """
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, UnicodeError):
        return "it is not UTF-8 text"
    message = " ".join(str(exc).split())
    found = [m.group(0) for pattern in _SAFE_DETAILS for m in pattern.finditer(message)]
    kind = {pa.ArrowInvalid: "malformed content", pyreadstat.ReadstatError: "malformed content"}
    what = next((v for k, v in kind.items() if isinstance(exc, k)), type(exc).__name__)
    return what + (f" ({', '.join(dict.fromkeys(found))})" if found else "")


def read_head(path: Path | str, display_name: str | None = None, rows: int = 5
              ) -> RawDataset | None:
    """The first rows of a delivered file, to see its domain before loading (None: unreadable).

    Used to order the files of one delivery by content (DM before the domains that need it);
    the full read (:func:`read_dataset`) decides whether the file loads.
    """
    path = Path(path)
    name = display_name or path.name
    try:
        fmt = format_of(path, name)
        if fmt == "xpt":
            frame, meta = pyreadstat.read_xport(str(path), encoding="latin1", row_limit=rows)
            dataset_name = meta.table_name or None
        elif fmt == "sas7bdat":
            frame, meta = pyreadstat.read_sas7bdat(str(path), row_limit=rows)
            dataset_name = meta.table_name or None
        elif fmt == "parquet":
            first = next(pq.ParquetFile(path).iter_batches(batch_size=rows), None)
            if first is not None:
                first.validate(full=True)
            dataset_name, frame = None, (first.to_pandas() if first is not None
                                         else pd.DataFrame())
        elif fmt == "csv":
            with path.open(encoding="utf-8-sig", newline="", errors="replace") as fh:
                head = list(zip(range(rows + 1), csv.reader(fh), strict=False))
            lines = [r for _, r in head]
            dataset_name, frame = None, pd.DataFrame(
                [r[: len(lines[0])] for r in lines[1:]], columns=lines[0]) if lines else None
        else:
            dataset_name, frame = _READERS[fmt](path)
    except (IngestError, RecursionError, pa.ArrowException, pyreadstat.ReadstatError, ValueError,
            OSError, UnicodeError, KeyError, TypeError, IndexError, AttributeError,
            OverflowError, csv.Error):
        return None
    if frame is None:
        return None
    frame = frame.head(rows).reset_index(drop=True)
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    return RawDataset(file_name=name, sha256="", format=fmt, name=dataset_name, frame=frame)


def _read_xpt(path: Path) -> tuple[str | None, pd.DataFrame]:
    frame, meta = pyreadstat.read_xport(str(path), encoding="latin1")
    _check_xpt_complete(path, len(frame), sum(meta.variable_storage_width.values()))
    return (meta.table_name or None), frame


def _read_sas7bdat(path: Path) -> tuple[str | None, pd.DataFrame, dict[str, str]]:
    """A SAS dataset in chunks; refused when it holds fewer rows than its header declares.

    ReadStat refuses a file cut inside a page ("Unable to read from file"); a file cut at a
    page boundary is caught by the row count of its header.
    """
    _, meta = pyreadstat.read_sas7bdat(str(path), metadataonly=True)
    chunks = [chunk for chunk, _ in pyreadstat.read_file_in_chunks(
        pyreadstat.read_sas7bdat, str(path), chunksize=SAS_CHUNK_ROWS)]
    if not chunks:
        raise IngestError("it holds no rows")
    frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    declared = meta.number_rows
    if declared is not None and declared != len(frame):
        raise IngestError(f"it declares {declared} rows but holds {len(frame)} (truncated?)")
    return (meta.table_name or None), frame, dict(meta.column_names_to_labels)


def _check_xpt_complete(path: Path, rows: int, record_length: int) -> None:
    """Refuse a truncated transport file, which pyreadstat reads without complaint.

    SAS transport v5 stores observations back to back after the OBS header and pads the last
    80-byte record with blanks: what follows the last observation read must be under 80 blank
    bytes. A file cut inside an observation leaves more (or non-blank) bytes.
    """
    with path.open("rb") as fh:  # the headers, then only the bytes after the last row
        head = fh.read(1 << 20)
        start = head.find(_XPT_OBS_HEADER)
        if start < 0:
            raise IngestError("it has no observation header (truncated?)")
        size = fh.seek(0, 2)
        fh.seek(min(size, start + 80 + rows * record_length))
        rest = fh.read(160)
    if size % 80 or len(rest) >= 80 or rest.strip(b" "):
        raise IngestError(f"it ends inside an observation after {rows} complete rows (truncated?)")


def _csv_header(path: Path) -> list[str]:
    """The header row of a CSV file, refused when there is none or the file was cut inside a
    quoted value."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        try:
            header = next(csv.reader(io.StringIO(fh.readline())))
        except StopIteration as exc:
            raise IngestError("it has no header row") from exc
    tail = _last_bytes(path)
    if tail.count(b'"') % 2 and not tail.endswith(b"\n"):
        raise IngestError("it ends inside a quoted value (truncated?)")
    return header


def _csv_convert(header: list[str]) -> pacsv.ConvertOptions:
    # Every value as text, nothing turned into NA: the values are kept as delivered and typed
    # (with a reason when they do not fit) by the domain mapping.
    return pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                strings_can_be_null=False, quoted_strings_can_be_null=False)


def _read_csv(path: Path) -> tuple[str | None, pd.DataFrame]:
    table = pacsv.read_csv(
        path, read_options=pacsv.ReadOptions(encoding="utf8", block_size=64 << 20),
        convert_options=_csv_convert(_csv_header(path)))
    return None, table.to_pandas()


def _last_bytes(path: Path, n: int = 4096) -> bytes:
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - n))
        return fh.read()


def _dataset_json_frame(meta: dict, rows: list) -> tuple[str | None, pd.DataFrame]:
    version = str(meta.get("datasetJSONVersion", ""))
    if not version.startswith("1.1"):
        shown = version if re.fullmatch(r"[0-9.]{1,12}", version) else "not a version number"
        raise IngestError(f"it is not Dataset-JSON v1.1 (datasetJSONVersion {shown})")
    columns = meta.get("columns")
    if not isinstance(columns, list) or not columns:
        raise IngestError("its Dataset-JSON metadata has no columns")
    names = [str(c["name"]) for c in columns]
    declared = meta.get("records")
    if isinstance(declared, int) and declared != len(rows):
        raise IngestError(f"it declares {declared} records but holds {len(rows)} (truncated?)")
    width = len(names)
    bad = next((i for i, r in enumerate(rows, 1) if not isinstance(r, list) or len(r) != width),
               None)
    if bad is not None:
        raise IngestError(f"row {bad} does not have the {len(names)} values of the columns")
    frame = pd.DataFrame(rows, columns=names, dtype=object)
    for name, col in zip(names, columns, strict=True):
        if col.get("dataType") in {"string", "date", "datetime", "time", "URI"}:
            frame[name] = frame[name].astype("str")
        elif col.get("dataType") in {"integer", "float", "double", "decimal"}:
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
    declared_name = meta.get("name") or meta.get("itemGroupOID")
    return (declared_name if isinstance(declared_name, str) else None), frame


def _read_json(path: Path) -> tuple[str | None, pd.DataFrame]:
    with path.open(encoding="utf-8-sig") as fh:
        try:
            doc = json.load(fh)
        except json.JSONDecodeError as exc:
            if exc.msg == "Extra data":  # NDJSON delivered with a .json name
                return _read_ndjson(path)
            raise
    if not isinstance(doc, dict) or "rows" not in doc:
        raise IngestError("it is JSON but not a Dataset-JSON document (no rows)")
    return _dataset_json_frame(doc, doc["rows"])


def _read_ndjson(path: Path) -> tuple[str | None, pd.DataFrame]:
    with path.open(encoding="utf-8-sig") as fh:
        meta = json.loads(fh.readline())
        body = fh.read().strip()
    if not isinstance(meta, dict):
        raise IngestError("its first line is not the Dataset-JSON metadata object")
    # One C-level parse of all rows instead of one json.loads per line.
    rows = json.loads("[" + ",".join(line for line in body.splitlines() if line.strip()) + "]")
    return _dataset_json_frame(meta, rows)


def _parquet_chunks(path: Path) -> Iterator[pd.DataFrame]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK_ROWS):
        batch.validate(full=True)
        yield batch.to_pandas(ignore_metadata=True)


def _csv_chunks(path: Path) -> Iterator[pd.DataFrame]:
    header = _csv_header(path)
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(encoding="utf8",
                                                                 block_size=CSV_BLOCK_BYTES),
                            convert_options=_csv_convert(header))
    pending: list[pa.RecordBatch] = []
    rows = 0
    batches = iter(reader)
    while True:  # blocks of bytes, regrouped into chunks of about CHUNK_ROWS rows
        try:
            batch = next(batches, None)
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):  # Arrow: a row does not fit in one block
                raise
            limit = CSV_BLOCK_BYTES / 2**20
            raise IngestError(f"a row is longer than {limit:g} MB, the most a row of a large CSV "
                              "may take") from exc
        if batch is None:
            break
        pending.append(batch)
        rows += batch.num_rows
        if rows >= CHUNK_ROWS:
            yield pa.Table.from_batches(pending).to_pandas()
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending).to_pandas()


def _xpt_chunks(path: Path) -> Iterator[pd.DataFrame]:
    for frame, _ in pyreadstat.read_file_in_chunks(pyreadstat.read_xport, str(path),
                                                   chunksize=CHUNK_ROWS, encoding="latin1"):
        yield frame


def _read_parquet(path: Path) -> tuple[str | None, pd.DataFrame]:
    table = pq.read_table(path)
    table.validate(full=True)  # e.g. text that is not UTF-8: refused here, not while mapping
    return None, table.to_pandas(ignore_metadata=True)


_FORMAT_NAMES = {"xpt": "SAS transport (XPT)", "sas7bdat": "SAS dataset (sas7bdat)", "csv": "CSV", "json": "Dataset-JSON",
                 "ndjson": "Dataset-JSON (NDJSON)", "parquet": "Parquet"}
_READERS: dict[str, Callable[[Path], tuple[str | None, pd.DataFrame]]] = {
    "xpt": _read_xpt, "csv": _read_csv, "json": _read_json, "ndjson": _read_ndjson,
    "parquet": _read_parquet,
}
