"""``manifest.json``: what a DSMB report folder holds, with checksums, so what was reviewed can
be proven later.

It lists every file of the folder (but itself) with its sha256 and size, the cut-off, the freeze
point (data version), the content hash, the configuration's sha256 and the software versions.
It holds nothing that changes from run to run (no wall clock, no snapshot number: those are in
the ``snapshot`` table), so the same report gives the same manifest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from safety.report.snapshot import sha256_file

MANIFEST_NAME = "manifest.json"
REPRODUCIBILITY = (
    "content_sha256 is the sha256 over the report's tables (CSV bytes) and figure "
    "specifications (plotly JSON), in order; it depends on the data and the software version "
    "only. CSV and XLSX files are byte-identical whenever the content hash is. PNG figures, and "
    "the PDF and HTML that embed them, are byte-identical with the same renderer versions "
    "(listed under software) and the same Chromium; a newer Chromium may change pixels but "
    "not the content hash."
)


def file_entries(folder: Path, paths: list[Path]) -> list[dict]:
    """path (relative, '/'-separated), sha256 and bytes of each file, sorted by path."""
    entries = [
        {
            "path": p.relative_to(folder).as_posix(),
            "sha256": sha256_file(p),
            "bytes": p.stat().st_size,
        }
        for p in paths
    ]
    return sorted(entries, key=lambda e: e["path"])


def build_manifest(folder: Path, paths: list[Path], header: Mapping) -> dict:
    """The manifest: ``header`` (study, cut-off, hashes, versions, tables) plus the files."""
    return {**header, "reproducibility": REPRODUCIBILITY, "files": file_entries(folder, paths)}


def write_manifest(folder: Path, manifest: Mapping) -> Path:
    """Write ``manifest.json`` (sorted keys, two-space indent, trailing newline)."""
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def verify(folder: Path) -> list[str]:
    """Files of the manifest that are missing or whose sha256 no longer matches (empty: all
    match)."""
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    problems = []
    for entry in manifest["files"]:
        path = folder / entry["path"]
        if not path.exists():
            problems.append(f"{entry['path']}: missing")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{entry['path']}: sha256 differs")
    return problems


def zip_bytes(folder: Path) -> bytes:
    """The whole report folder as a zip (sorted names, fixed timestamps: same files, same zip)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()
