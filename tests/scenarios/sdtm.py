"""Scenario studies as a sponsor delivers them: SDTM CSV files written from compact case reports,
a study configuration, and the command line that loads and reads them.

A scenario is written the way a case report reads::

    Subject("B2-06", "DL2", first_dose="2023-03-01T09:30",
            aes=[AE("Nausea", day=3, grade=1, rel="NOT RELATED")],
            left=Left("WITHDRAWAL BY SUBJECT", day=10))

Days are SDTM study days (SDTMIG 3.x, --DY): the day of the first dose (RFXSTDTC) is day 1, the
day before it day -1; there is no day 0.

Only the observable surface of the product is used: ``python -m safety ingest`` / ``status``
in a subprocess (the interpreter running the tests, i.e. the worktree's venv), files on disk and
the JSON the commands print. Nothing of the package is imported, so the scenarios survive any
restructuring of its modules.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PILOT_DIR = ROOT / "tests" / "data" / "cdiscpilot01"

# --- study days -----------------------------------------------------------------------------


def parse_dtc(dtc: str) -> datetime:
    """A complete ISO 8601 date or date-time ("2023-03-01" or "2023-03-01T09:30")."""
    return datetime.fromisoformat(dtc)


def study_date(first_dose: str, day: int) -> date:
    """The calendar date of study day ``day`` (SDTMIG --DY: day 1 = first dose day, no day 0)."""
    if day == 0:
        raise ValueError("there is no study day 0 (SDTMIG 3.x --DY)")
    start = parse_dtc(first_dose).date()
    return start + timedelta(days=day - 1 if day > 0 else day)


def dtc_on(first_dose: str, day: int, at: str | None = None) -> str:
    """The --DTC of study day ``day`` relative to the first dose, with an optional time HH:MM."""
    d = study_date(first_dose, day).isoformat()
    return f"{d}T{at}" if at else d


# --- case reports ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AE:
    """One adverse event (SDTM AE). ``day`` is the study day of onset, ``at`` its time (HH:MM) or
    None for a date-only AESTDTC; ``dtc`` gives AESTDTC verbatim instead (partial dates).
    ``grade`` is AETOXGR (None: blank); ``rel`` is AEREL (None: blank)."""

    term: str
    day: int | None = None
    at: str | None = None
    dtc: str | None = None
    grade: int | None = 1
    rel: str | None = "RELATED"
    ser: str = "N"
    soc: str = "GENERAL DISORDERS AND ADMINISTRATION SITE CONDITIONS"
    sev: str | None = None
    outcome: str = "RECOVERED/RESOLVED"
    end_day: int | None = None
    acn: str = "NOT APPLICABLE"
    sdth: str = "N"
    shosp: str = "N"
    slife: str = "N"
    sdisab: str = "N"
    scong: str = "N"
    smie: str = "N"


@dataclass(frozen=True)
class Left:
    """The subject left the study on study day ``day``: DS disposition event DSDECOD ``decod``
    (e.g. WITHDRAWAL BY SUBJECT, LOST TO FOLLOW-UP, DEATH, COMPLETED)."""

    decod: str
    day: int
    term: str | None = None


@dataclass(frozen=True)
class Dose:
    """One administration (SDTM EX): on study day ``day`` (time ``at`` HH:MM or None), ``amount``
    in the cohort's unit (None: the cohort's dose)."""

    day: int
    amount: float | None = None
    at: str | None = None


@dataclass(frozen=True)
class Lab:
    """One lab result (SDTM LB): LBTESTCD ``code`` on study day ``day`` at 08:00; ``baseline``
    sets LBBLFL = Y."""

    code: str
    day: int
    value: float
    uln: float
    unit: str = "U/L"
    lln: float = 0.0
    baseline: bool = False
    name: str = ""


@dataclass(frozen=True)
class Subject:
    """One subject: her arm (DM.ARMCD = a cohort's arm code), first dose (RFXSTDTC, date or
    date-time; None = enrolled, never dosed), AEs and how she left (None: still on study)."""

    sid: str
    arm: str
    first_dose: str | None
    aes: Sequence[AE] = ()
    left: Left | None = None
    sex: str = "F"
    age: int = 45
    died_day: int | None = None  # DM.DTHDTC / DTHFL (with a DEATH disposition in ``left``)
    dm_end: bool = True  # DM carries RFENDTC / RFPENDTC of her departure; False: only DS says
    #                      she left (a DM exported before she left)
    doses: Sequence[Dose] | None = None  # EX records; None: one dose of the cohort at first_dose
    labs: Sequence[Lab] | None = None  # LB records; None: the study's normal ALT/AST visits
    supp: tuple[tuple[str, str], ...] = ()  # SUPPDM qualifiers (QNAM, QVAL)


# Lab visits (study day, VISIT, LBBLFL): screening baseline, day 8, and the end-of-DLT-period
# visit on day 29 that a cumulative EDC export carries once a window is over.
LAB_VISITS = ((-7, "SCREENING", "Y"), (8, "DAY 8", ""), (29, "END OF DLT PERIOD", ""))


@dataclass(frozen=True)
class CohortSpec:
    """A cohort of the study configuration; ``dose_level`` None makes it the control."""

    cid: str
    label: str
    dose_level: int | None
    dose: float = 0.0
    unit: str = "mg/kg"

    @property
    def control(self) -> bool:
        return self.dose_level is None


@dataclass
class Study:
    """A scenario study: configuration and subjects; ``write`` delivers it as SDTM CSV."""

    study_id: str
    cohorts: Sequence[CohortSpec]
    subjects: Sequence[Subject]
    design: str = "boin"
    target: float = 0.30
    cohort_size: int = 3
    window_days: int = 28
    min_grade: int = 3
    always_terms: Sequence[str] = ("Anaphylactic reaction",)
    excluded_terms: Sequence[str] = ("Procedural pain",)
    stopping_rules: str = ""  # TOML text of [[stopping_rules]] tables
    labs: bool = True  # deliver normal ALT/AST at the LAB_VISITS
    dlt_settings: str = ""  # more keys of the [dlt] table, TOML lines
    extra_toml: str = ""  # more tables at the end ([labs], [[dlt.lab_criteria]], ...)

    def usubjid(self, sid: str) -> str:
        return f"{self.study_id}-{sid}"

    def cohort_of(self, arm: str) -> CohortSpec:
        return next(c for c in self.cohorts if c.cid == arm)

    # --- configuration ----------------------------------------------------------------------

    def config_toml(self) -> str:
        """The study configuration, adapted from data/studies/nct04232592.toml."""
        lines = [
            "[study]",
            f'id = "{self.study_id}"',
            f'title = "Protocol scenario {self.study_id} (synthetic)"',
            'phase = "Phase 1"',
            "centres = 1",
            'masking = "Open label"',
            'allocation = "Non-randomised"',
            'model = "Sequential dose escalation"',
            "start_date = 2023-01-02",
            "follow_up_weeks = 24",
            'related_causality = ["RELATED", "PROBABLY RELATED", "POSSIBLY RELATED"]',
            "",
            "[design]",
            f'name = "{self.design}"',
            f"target = {self.target}",
            f"cohort_size = {self.cohort_size}",
            "start_dose_level = 1",
            "",
        ]
        for c in self.cohorts:
            lines += ["[[cohorts]]", f'id = "{c.cid}"', f'label = "{c.label}"']
            if c.control:
                lines += ["control = true"]
            else:
                lines += [f"dose_level = {c.dose_level}", f"dose = {c.dose}", f'unit = "{c.unit}"']
            lines += [""]
        lines += [
            "[dlt]",
            f"window_days = {self.window_days}",
            f"min_grade = {self.min_grade}",
            "require_related = true",
            "always_terms = [" + ", ".join(f'"{t}"' for t in self.always_terms) + "]",
            "excluded_terms = [" + ", ".join(f'"{t}"' for t in self.excluded_terms) + "]",
            self.dlt_settings,
            "",
            "[[dlt.lab_criteria]]",
            'term = "Alanine aminotransferase increased"',
            "min_grade = 3",
            "",
            self.stopping_rules,
            self.extra_toml,
        ]
        return "\n".join(lines) + "\n"

    def write_config(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.study_id.lower()}.toml"
        path.write_text(self.config_toml(), encoding="utf-8")
        return path

    # --- SDTM domains -----------------------------------------------------------------------

    def dm_rows(self) -> list[dict]:
        rows = []
        for s in self.subjects:
            c = self.cohort_of(s.arm)
            fd = s.first_dose
            end = dtc_on(fd, s.left.day) if (fd and s.left and s.dm_end) else ""
            death = dtc_on(fd, s.died_day) if (fd and s.died_day) else ""
            rows.append({
                "STUDYID": self.study_id, "DOMAIN": "DM", "USUBJID": self.usubjid(s.sid),
                "SUBJID": s.sid, "RFSTDTC": fd or "", "RFENDTC": end,
                "RFXSTDTC": fd or "", "RFXENDTC": fd or "",
                "RFICDTC": dtc_on(fd, -7) if fd else "", "RFPENDTC": end,
                "DTHDTC": death, "DTHFL": "Y" if death else "", "SITEID": "01",
                "AGE": s.age, "AGEU": "YEARS", "SEX": s.sex, "RACE": "WHITE",
                "ARMCD": c.cid, "ARM": c.label,
                "ACTARMCD": c.cid if fd else "NOTTRT", "ACTARM": c.label if fd else "Not Treated",
                "COUNTRY": "GBR",
            })
        return rows

    def ds_rows(self) -> list[dict]:
        rows = []
        for s in self.subjects:
            if not s.first_dose:
                continue
            seq = 1
            rows.append({
                "STUDYID": self.study_id, "DOMAIN": "DS", "USUBJID": self.usubjid(s.sid),
                "DSSEQ": seq, "DSTERM": "INFORMED CONSENT OBTAINED",
                "DSDECOD": "INFORMED CONSENT OBTAINED", "DSCAT": "PROTOCOL MILESTONE",
                "DSSTDTC": dtc_on(s.first_dose, -7),
            })
            if s.left:
                rows.append({
                    "STUDYID": self.study_id, "DOMAIN": "DS", "USUBJID": self.usubjid(s.sid),
                    "DSSEQ": seq + 1, "DSTERM": s.left.term or s.left.decod,
                    "DSDECOD": s.left.decod, "DSCAT": "DISPOSITION EVENT",
                    "DSSTDTC": dtc_on(s.first_dose, s.left.day),
                })
        return rows

    def ex_rows(self) -> list[dict]:
        rows = []
        for s in self.subjects:
            if not s.first_dose:
                continue
            c = self.cohort_of(s.arm)
            doses = s.doses or [Dose(1)]
            for seq, dose in enumerate(doses, start=1):
                dtc = s.first_dose if (dose.day == 1 and dose.at is None) else dtc_on(
                    s.first_dose, dose.day, dose.at)
                amount = dose.amount if dose.amount is not None else c.dose
                rows.append({
                    "STUDYID": self.study_id, "DOMAIN": "EX", "USUBJID": self.usubjid(s.sid),
                    "EXSEQ": seq, "EXTRT": "VEHICLE" if c.control else "STUDY DRUG",
                    "EXDOSE": 0 if c.control else amount, "EXDOSU": c.unit,
                    "EXDOSFRM": "INJECTION", "EXDOSFRQ": "ONCE", "EXROUTE": "INTRAVENOUS",
                    "EXSTDTC": dtc, "EXENDTC": dtc,
                })
        return rows

    def ae_rows(self) -> list[dict]:
        rows = []
        for s in self.subjects:
            for seq, ae in enumerate(s.aes, start=1):
                start = ae.dtc or dtc_on(s.first_dose, ae.day, ae.at)
                rows.append({
                    "STUDYID": self.study_id, "DOMAIN": "AE", "USUBJID": self.usubjid(s.sid),
                    "AESEQ": seq, "AETERM": ae.term.upper(), "AEDECOD": ae.term,
                    "AEBODSYS": ae.soc, "AESEV": ae.sev or "", "AESER": ae.ser,
                    "AEACN": ae.acn, "AEREL": ae.rel or "", "AEOUT": ae.outcome,
                    "AESCONG": ae.scong, "AESDISAB": ae.sdisab, "AESDTH": ae.sdth,
                    "AESHOSP": ae.shosp, "AESLIFE": ae.slife, "AESMIE": ae.smie,
                    "AETOXGR": "" if ae.grade is None else ae.grade,
                    "AESTDTC": start,
                    "AEENDTC": dtc_on(s.first_dose, ae.end_day) if ae.end_day else "",
                })
        return rows

    def lb_rows(self) -> list[dict]:
        rows = []
        for s in self.subjects:
            if s.first_dose and s.labs is not None:
                rows += [{
                    "STUDYID": self.study_id, "DOMAIN": "LB", "USUBJID": self.usubjid(s.sid),
                    "LBSEQ": seq, "LBTESTCD": lab.code, "LBTEST": lab.name or lab.code,
                    "LBCAT": "HEMATOLOGY" if lab.code == "INR" else "CHEMISTRY",
                    "LBORRES": lab.value, "LBORRESU": lab.unit, "LBSTRESC": lab.value,
                    "LBSTRESN": lab.value, "LBSTRESU": lab.unit, "LBSTNRLO": lab.lln,
                    "LBSTNRHI": lab.uln, "LBNRIND": "HIGH" if lab.value > lab.uln else "NORMAL",
                    "LBBLFL": "Y" if lab.baseline else "", "VISIT": f"DAY {lab.day}",
                    "LBDTC": dtc_on(s.first_dose, lab.day, "08:00"),
                } for seq, lab in enumerate(s.labs, start=1)]
                continue
            if not (self.labs and s.first_dose):
                continue
            seq = 0
            for day, visit, baseline in LAB_VISITS:
                if s.left and day > s.left.day:
                    continue  # no visit after she left
                for code, name, value in (("ALT", "Alanine Aminotransferase", 22),
                                          ("AST", "Aspartate Aminotransferase", 25)):
                    seq += 1
                    rows.append({
                        "STUDYID": self.study_id, "DOMAIN": "LB", "USUBJID": self.usubjid(s.sid),
                        "LBSEQ": seq, "LBTESTCD": code, "LBTEST": name, "LBCAT": "CHEMISTRY",
                        "LBORRES": value, "LBORRESU": "U/L", "LBSTRESC": value,
                        "LBSTRESN": value, "LBSTRESU": "U/L", "LBSTNRLO": 0, "LBSTNRHI": 40,
                        "LBNRIND": "NORMAL", "LBBLFL": baseline, "VISIT": visit,
                        "LBDTC": dtc_on(s.first_dose, day, "08:00"),
                    })
        return rows

    def suppdm_rows(self) -> list[dict]:
        return [{"STUDYID": self.study_id, "RDOMAIN": "DM", "USUBJID": self.usubjid(s.sid),
                 "IDVAR": "", "IDVARVAL": "", "QNAM": qnam, "QLABEL": qnam, "QVAL": qval,
                 "QORIG": "CRF", "QEVAL": ""}
                for s in self.subjects for qnam, qval in s.supp]

    def write(self, folder: Path,
              domains: Iterable[str] = ("DM", "DS", "EX", "AE", "LB", "SUPPDM")) -> list[Path]:
        """Write the domains as <domain>.csv into ``folder`` (empty domains are not written:
        an EDC export of a domain without records is no delivery). Returns the files."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for domain in domains:
            rows = getattr(self, f"{domain.lower()}_rows")()
            if rows:
                written.append(write_csv(folder / f"{domain.lower()}.csv", rows))
        return written


def write_csv(path: Path, rows: list[dict]) -> Path:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


# --- the command line -----------------------------------------------------------------------
# Two ways to run a command, with the same result:
# - "subprocess": ``python -m safety ARGS`` with the interpreter running the tests (the venv);
# - "inprocess" (default): click's CliRunner on the group of ``safety.cli``, the module behind
#   ``python -m safety`` and nothing else of the package. It saves the ~3 s a process spends
#   importing the package, so many cut-offs stay affordable (the suite runs in about a minute).
# SCENARIO_CLI=subprocess runs every command as a process; a few tests always use one.
CLI_MODE = os.environ.get("SCENARIO_CLI", "inprocess")


@dataclass(frozen=True)
class Run:
    """What a command did: exit status, stdout, stderr (with the traceback of a crash)."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def why(self) -> str:
        """The end of stderr on one line (the error message, or a traceback's last lines)."""
        lines = [ln.strip() for ln in self.stderr.splitlines()
                 if ln.strip() and not ln.startswith("note:")]
        return " | ".join(lines[-6:])

    def json(self) -> dict:
        """The JSON document on stdout; fails naming the command when it did not exit 0."""
        assert self.returncode == 0, (
            f"`safety {' '.join(self.args)}` exited {self.returncode}: {self.why}")
        return json.loads(self.stdout)


def _env(studies_dir: Path | None) -> dict[str, str | None]:
    return {"SAFETY_STUDIES": str(studies_dir) if studies_dir else None, "SAFETY_DB": None}


def _subprocess(args: tuple[str, ...], studies_dir: Path | None, timeout: float,
                input: str | None = None) -> Run:
    env = {k: v for k, v in os.environ.items()}
    for key, value in _env(studies_dir).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    proc = subprocess.run([sys.executable, "-m", "safety", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=timeout, input=input)
    return Run(args, proc.returncode, proc.stdout, proc.stderr)


def _cli_group():
    """The click group behind ``python -m safety`` (``safety.cli``'s ``cli``, or the one group
    there that has a ``status`` command)."""
    import importlib

    import click

    module = importlib.import_module("safety.cli")
    group = getattr(module, "cli", None)
    if isinstance(group, click.Group):
        return group
    for value in vars(module).values():
        if isinstance(value, click.Group) and "status" in value.commands:
            return value
    raise RuntimeError("safety.cli has no click group with a status command")


def _inprocess(args: tuple[str, ...], studies_dir: Path | None, input: str | None = None) -> Run:
    import traceback

    from click.testing import CliRunner

    result = CliRunner().invoke(_cli_group(), list(args), env=_env(studies_dir), input=input)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return Run(args, result.exit_code, result.stdout, stderr)


def safety(*args, studies_dir: Path | None = None, mode: str | None = None,
           timeout: float = 600, input: str | None = None) -> Run:
    """Run ``safety ARGS`` (see CLI_MODE), ``input`` on its stdin (a signature password);
    ``mode="subprocess"`` forces a real process."""
    args = tuple(map(str, args))
    if (mode or CLI_MODE) == "subprocess":
        return _subprocess(args, studies_dir, timeout, input)
    return _inprocess(args, studies_dir, input)


def ingest(db: Path, *paths: Path, studies_dir: Path | None = None, mode: str | None = None
           ) -> Run:
    return safety("ingest", *paths, "--db", db, "--json", studies_dir=studies_dir, mode=mode)


def status(db: Path, cutoff: date | str | None = None, study: str | None = None,
           mode: str | None = None) -> Run:
    args = ["status", "--db", str(db), "--json"]
    if study:
        args += ["--study", study]
    if cutoff:
        args += ["--cutoff", str(cutoff)]
    return safety(*args, mode=mode)


def status_doc(db: Path, cutoff: date | str | None = None, study: str | None = None) -> dict:
    """The status JSON at the cut-off (the command must exit 0)."""
    return status(db, cutoff, study).json()


def check_loaded(run: Run) -> list[dict]:
    """The batches of an ingest that must have loaded every file and every row."""
    assert run.returncode == 0, f"`safety {run.args[0]} ...` exited {run.returncode}: {run.why}"
    batches = json.loads(run.stdout)["batches"]
    bad = [(b["file"], b["status"], b["rows_quarantined"], b["reason"]) for b in batches
           if b["status"] != "loaded" or b["rows_quarantined"]]
    assert not bad, f"ingest did not load every row: {bad}"
    return batches


def deliver(study: Study, folder: Path, db: Path | None = None,
            domains: Iterable[str] = ("DM", "DS", "EX", "AE", "LB", "SUPPDM")) -> Path:
    """Write the study's configuration (``folder``/studies) and its SDTM files
    (``folder``/sdtm-<id>) and ingest them in one call, DM first; every row must load.
    Returns the database (default ``folder``/safety.duckdb)."""
    cfg = folder / "studies"
    study.write_config(cfg)
    files = study.write(folder / f"sdtm-{study.study_id.lower()}", domains)
    db = db or folder / "safety.duckdb"
    check_loaded(ingest(db, *files, studies_dir=cfg))
    return db


def ingest_together(folder: Path, *studies: Study) -> tuple[Path, Run]:
    """Several studies delivered in one ``ingest`` call into one database (``folder``/
    safety.duckdb): (the database, the run, whose success the caller checks)."""
    cfg = folder / "studies"
    files = []
    for study in studies:
        study.write_config(cfg)
        files += study.write(folder / f"sdtm-{study.study_id.lower()}")
    db = folder / "safety.duckdb"
    return db, ingest(db, *files, studies_dir=cfg)


def cohort(doc: dict, cohort_id: str, study_id: str | None = None) -> dict:
    """One cohort of a status document (of ``study_id``, else of the first study)."""
    st = doc["studies"][0] if study_id is None else study_of(doc, study_id)
    return next(c for c in st["cohorts"] if c["id"] == cohort_id)


def study_of(doc: dict, study_id: str) -> dict:
    return next(s for s in doc["studies"] if s["id"] == study_id)


COUNT_KEYS = ("treated", "evaluable", "in_dlt_window", "not_evaluable", "dlts")


def explain_doc(db: Path, cohort_id: str, cutoff: date | str, study: str | None = None) -> dict:
    """The JSON of ``status --explain COHORT`` at the cut-off (the command must exit 0)."""
    args = ["status", "--db", str(db), "--explain", cohort_id, "--cutoff", str(cutoff), "--json"]
    if study:
        args += ["--study", study]
    return safety(*args).json()


def counts(c: dict, keys: Sequence[str] = COUNT_KEYS) -> dict:
    """The cohort's counts by name; a key the status does not report shows as 'MISSING'."""
    return {k: c.get(k, "MISSING") for k in keys}
