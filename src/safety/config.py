"""Study protocol configuration: a TOML file per study, read once into frozen, validated objects.

Every check happens on load. A bad file is refused with one sentence naming the file, the table
and key, what was expected and what was found, e.g.
``nct04232592.toml: [dlt] window_days must be a whole number of days, got "28d"``.
Code downstream trusts the objects and never re-reads the TOML.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from safety.errors import ConfigError

STUDIES_DIR = Path(__file__).resolve().parents[2] / "data" / "studies"
DESIGNS = ("3+3", "boin", "mtpi2", "crm")
STOPPING_RULE_KINDS = (
    "hard_stop_terms",
    "k_of_first_n",
    "too_toxic",
    "max_subjects",
    "max_at_dose",
)


@dataclass(frozen=True, slots=True)
class Cohort:
    """One arm of the study: a dose level of the escalation, or the control group."""

    cohort_id: str
    label: str
    is_control: bool
    dose_level: int | None  # 1-based escalation order; None for control
    dose: float | None
    dose_unit: str | None
    planned_subjects: int | None
    arm_codes: tuple[str, ...]  # ARMCD / ARM values that map to this cohort on ingest
    treatment: str | None = None  # control: what it is given, in a word ("vehicle", "placebo")

    def dose_text(self) -> str:
        """The dose as people read it ("10 million cells"); for the control group what it is
        given (``[[cohorts]] treatment``, e.g. "placebo"; "control" when not said)."""
        if self.is_control:
            return self.treatment or "control"
        return f"{self.dose:g} {self.dose_unit or ''}".strip() if self.dose is not None else ""


@dataclass(frozen=True, slots=True)
class Design:
    """The escalation design and its parameters."""

    name: str
    target: float
    cohort_size: int
    max_subjects: int | None
    start_dose_level: int
    skeleton: tuple[float, ...] | None  # CRM prior toxicity per dose
    model: str  # CRM: empiric | logistic


@dataclass(frozen=True, slots=True)
class LabDltCriterion:
    """A lab abnormality that is a DLT when it reaches a CTCAE grade inside the window."""

    term: str
    min_grade: int


@dataclass(frozen=True, slots=True)
class DltDefinition:
    """What makes an event a dose-limiting toxicity, per the protocol, and who is evaluable.

    ``min_exposure`` (``[dlt] min_exposure``, a fraction in (0, 1]; None: any dose) is the share
    of the planned dose a patient must have received inside the DLT window to be evaluable
    without a DLT; the planned dose is the cohort's ``dose`` times ``planned_administrations``
    (``[dlt] planned_administrations``, default 1: a single dose).
    """

    window_days: int
    min_grade: int
    require_related: bool
    always_terms: tuple[str, ...]
    excluded_terms: tuple[str, ...]
    lab_criteria: tuple[LabDltCriterion, ...]
    min_exposure: float | None = None
    planned_administrations: int = 1


@dataclass(frozen=True, slots=True)
class LabSettings:
    """How the protocol grades labs where CTCAE v5.0 leaves a choice (``[labs]``).

    INR increased has two criteria in CTCAE v5.0: absolute (>1.2, >1.5, >2.5) for patients not
    on anticoagulation, and multiples of the baseline for patients on anticoagulation. The
    absolute criterion is the default; the baseline-relative one applies to everyone when
    ``inr_anticoagulated`` is true, and otherwise to the subjects whose SUPPDM qualifier named
    ``anticoagulation_qnam`` has QVAL "Y".
    """

    inr_anticoagulated: bool = False
    anticoagulation_qnam: str | None = None


@dataclass(frozen=True, slots=True)
class StoppingRule:
    """An extra stopping rule of the protocol; which fields matter depends on ``kind``."""

    kind: str
    name: str
    terms: tuple[str, ...] = ()
    k: int | None = None
    n: int | None = None
    certainty: float | None = None


# Said once wherever a study without an escalation design would show decisions or DLTs.
MONITORING_ONLY = (
    "Not a dose-escalation study: safety monitoring only (AEs, labs, deaths, SAEs and alerts; "
    "the protocol declares no escalation design, DLT definition or stopping rules)."
)

DELIVERY_TYPES = ("cumulative", "incremental")
# The SDTM domains ingest loads (safety.ingest.domains.DOMAINS; a test keeps the two equal).
DELIVERED_DOMAINS = ("DM", "DS", "EX", "AE", "SUPPAE", "LB", "VS", "SUPPDM")


@dataclass(frozen=True, slots=True)
class DeliveryRules:
    """How the study's data arrive and what one delivery may change before a person looks.

    Each domain is delivered **cumulatively** (every file a full export that supersedes the
    current cut) unless listed in ``incremental`` (a file adds and updates records by key). A
    delivery is **held** for a data manager's confirmation when, against the current data, it
    would remove more than the tolerances allow (records of its domain as a share of the current
    ones, subjects, DLT candidates, SAEs, deaths), or when more than ``max_quarantined`` of its
    rows are quarantined. Dates before ``earliest_date`` or more than ``future_days`` after the
    day of delivery are implausible (quarantined).

    Defaults (issue 14): any SAE, DLT or death removed, any subject removed, more than 5 % of the
    records removed, or more than 20 % of the rows quarantined holds the delivery; a date may be
    one day ahead of the delivery (an EDC in a time zone ahead of ours).
    """

    incremental: tuple[str, ...] = ()
    max_removed_records: float = 0.05
    max_removed_subjects: int = 0
    max_removed_dlts: int = 0
    max_removed_saes: int = 0
    max_removed_deaths: int = 0
    max_quarantined: float = 0.20
    future_days: int = 1
    earliest_date: date = date(1900, 1, 1)

    def delivery_type(self, domain: str) -> str:
        """``incremental`` or ``cumulative``: how a file of this SDTM domain is applied."""
        return "incremental" if domain.upper() in self.incremental else "cumulative"


ADAM_COHORT_VARIABLES = ("ARM", "TRT01P", "TRT01A")  # ADSL variables a cohort may come from


@dataclass(frozen=True, slots=True)
class DomainMapping:
    """How one SDTM domain arrives in a non-standard export: the delivery's column for each SDTM
    variable (``columns``: SDTM name -> delivered name) and local codes translated to the SDTM
    terms (``codes``: SDTM variable -> {local code -> SDTM term}, matched case-insensitively)."""

    domain: str
    columns: dict[str, str]
    codes: dict[str, dict[str, str]]


@dataclass(frozen=True, slots=True)
class StudyConfig:
    """A study's protocol facts, cohorts, DLT definition, design and stopping rules.

    A study that is not a dose escalation (e.g. a parallel-group, placebo-controlled one)
    declares neither ``[design]`` nor ``[dlt]`` (nor stopping rules): ``design`` and ``dlt``
    are None and every page, report, alert and status leaves DLTs, decisions and rules out,
    saying :data:`MONITORING_ONLY` once."""

    study_id: str
    title: str
    registry_id: str | None
    phase: str | None
    facts: dict[str, Any]  # registry facts shown in the study header
    start_date: date | None
    follow_up_weeks: int | None
    doses_illustrative: bool
    dose_note: str | None
    related_causality: tuple[str, ...]
    design: Design | None  # None: not a dose-escalation study (no [design], no [dlt])
    cohorts: tuple[Cohort, ...]
    dlt: DltDefinition | None
    stopping_rules: tuple[StoppingRule, ...]
    source_text: str
    source_sha256: str
    labs: LabSettings = LabSettings()
    delivery: DeliveryRules = DeliveryRules()
    mappings: tuple[DomainMapping, ...] = ()
    adam_cohort_variable: str = "ARM"  # ADSL: planned arm, as DM's ARMCD/ARM (issue 18)

    def mapping(self, domain: str) -> DomainMapping | None:
        """The study's mapping for a non-standard export of ``domain``, if it has one."""
        return next((m for m in self.mappings if m.domain == domain.upper()), None)

    @property
    def is_escalation(self) -> bool:
        """Whether the protocol declares an escalation design and a DLT definition. Without them
        the study is monitored for safety only: no DLTs, decisions or stopping rules."""
        return self.design is not None

    @property
    def dose_cohorts(self) -> tuple[Cohort, ...]:
        """Cohorts of the escalation in dose order (control excluded)."""
        return tuple(
            sorted((c for c in self.cohorts if not c.is_control), key=lambda c: c.dose_level)
        )

    @property
    def control_treatment(self) -> str:
        """What the control group is given, as its dose reads ("vehicle", "placebo")."""
        return next((c.dose_text() for c in self.cohorts if c.is_control), "control")

    def cohort(self, cohort_id: str) -> Cohort:
        for c in self.cohorts:
            if c.cohort_id == cohort_id:
                return c
        raise ConfigError(f"{self.study_id}: no cohort {cohort_id!r}")


class _Reader:
    """Typed access to one TOML table, with errors that name file, table and key."""

    def __init__(self, file_name: str, table: str, data: Any):
        self.file_name, self.table = file_name, table
        if not isinstance(data, dict):
            self.fail("", "a table", data)
        self.data = data

    def fail(self, key: str, expected: str, found: Any) -> None:
        where = f"[{self.table}] {key}".strip()
        raise ConfigError(f"{self.file_name}: {where} must be {expected}, got {found!r}")

    def get(self, key: str, kind: str, default: Any = ..., *, choices: tuple = ()) -> Any:
        if key not in self.data:
            if default is ...:
                raise ConfigError(f"{self.file_name}: [{self.table}] is missing the key {key!r}")
            return default
        value = self.data[key]
        checks = {
            "str": (lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string"),
            "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
            "posint": (
                lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
                "a whole number above 0",
            ),
            "prob": (
                lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < 1,
                "a probability strictly between 0 and 1",
            ),
            "number": (
                lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v >= 0,
                "a number of 0 or more",
            ),
            "bool": (lambda v: isinstance(v, bool), "true or false"),
            "date": (lambda v: isinstance(v, date), "a date (YYYY-MM-DD, unquoted)"),
            "strlist": (
                lambda v: isinstance(v, list) and all(isinstance(s, str) and s for s in v),
                "a list of strings",
            ),
            "problist": (
                lambda v: (
                    isinstance(v, list)
                    and len(v) > 0
                    and all(isinstance(p, int | float) and 0 < p < 1 for p in v)
                ),
                "a list of probabilities between 0 and 1",
            ),
            "grade": (
                lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5,
                "a CTCAE grade from 1 to 5",
            ),
            "fraction": (
                lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= 1,
                "a fraction above 0 and at most 1 (e.g. 0.8 for 80%)",
            ),
            "count": (
                lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
                "a whole number of 0 or more",
            ),
            "share": (
                lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1,
                "a share from 0 to 1 (0.05 = 5 %)",
            ),
        }
        ok, expected = checks[kind]
        if not ok(value):
            self.fail(key, expected, value)
        if choices and value not in choices:
            self.fail(key, "one of " + ", ".join(repr(c) for c in choices), value)
        return value


def load_study_config(path: Path | str) -> StudyConfig:
    """Read and validate one study configuration file.

    Raises
    ------
    ConfigError
        When the file is missing, is not valid TOML, or any key is missing or out of range.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{path.name}: cannot read the study configuration ({exc.strerror})"
        ) from exc
    return parse_study_config(text, path.name)


def parse_study_config(text: str, file_name: str = "<config>") -> StudyConfig:
    """Validate the text of a study configuration file (see :func:`load_study_config`)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file_name}: not valid TOML ({exc})") from exc

    for table in ("study", "cohorts"):
        if table not in raw:
            raise ConfigError(f"{file_name}: the table [{table}] is missing")
    escalation = [t for t in ("design", "dlt") if t in raw]
    if len(escalation) == 1:
        missing = ({"design", "dlt"} - set(escalation)).pop()
        raise ConfigError(
            f"{file_name}: [{escalation[0]}] without [{missing}]: a dose-escalation study declares "
            f"both, a study monitored for safety only neither"
        )
    if not escalation and raw.get("stopping_rules"):
        raise ConfigError(
            f"{file_name}: [[stopping_rules]] need an escalation design ([design] and [dlt])"
        )
    study = _Reader(file_name, "study", raw["study"])
    design = _read_design(_Reader(file_name, "design", raw["design"])) if escalation else None
    cohorts = _read_cohorts(file_name, raw["cohorts"])
    dlt = _read_dlt(file_name, _Reader(file_name, "dlt", raw["dlt"])) if escalation else None
    rules = tuple(
        _read_stopping_rule(file_name, i, r) for i, r in enumerate(raw.get("stopping_rules", []))
    )
    labs = _read_labs(_Reader(file_name, "labs", raw.get("labs", {})))
    delivery = _read_delivery(_Reader(file_name, "delivery", raw.get("delivery", {})))
    mappings = _read_mappings(file_name, raw.get("mapping", {}))
    adam = _Reader(file_name, "adam", raw.get("adam", {}))
    if set(adam.data) - {"cohort_variable"}:
        raise ConfigError(f"{file_name}: [adam] has unknown key(s) "
                          f"{', '.join(sorted(set(adam.data) - {'cohort_variable'}))}")

    if design is not None and design.skeleton is not None and len(design.skeleton) != sum(
        not c.is_control for c in cohorts
    ):
        raise ConfigError(
            f"{file_name}: [design] skeleton must have one probability per dose cohort "
            f"({sum(not c.is_control for c in cohorts)}), got {len(design.skeleton)}"
        )
    if design is not None and design.start_dose_level > sum(not c.is_control for c in cohorts):
        raise ConfigError(
            f"{file_name}: [design] start_dose_level must be a dose level that exists, "
            f"got {design.start_dose_level}"
        )

    facts_keys = (
        "phase",
        "centres",
        "masking",
        "allocation",
        "model",
        "population",
        "sex",
        "min_age",
        "max_age",
        "planned_subjects",
        "intervention",
        "control",
        "primary_outcome",
    )
    return StudyConfig(
        study_id=study.get("id", "str"),
        title=study.get("title", "str"),
        registry_id=study.get("registry_id", "str", None),
        phase=study.get("phase", "str", None),
        facts={k: study.data[k] for k in facts_keys if k in study.data},
        start_date=study.get("start_date", "date", None),
        follow_up_weeks=study.get("follow_up_weeks", "posint", None),
        doses_illustrative=study.get("doses_illustrative", "bool", False),
        dose_note=study.get("dose_note", "str", None),
        related_causality=tuple(s.upper() for s in study.get("related_causality", "strlist")),
        design=design,
        cohorts=cohorts,
        dlt=dlt,
        stopping_rules=rules,
        source_text=text,
        source_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        labs=labs,
        delivery=delivery,
        mappings=mappings,
        adam_cohort_variable=adam.get("cohort_variable", "str", "ARM",
                                      choices=ADAM_COHORT_VARIABLES),
    )


def _read_mappings(file_name: str, raw: Any) -> tuple[DomainMapping, ...]:
    """``[mapping.AE] columns = {AEDECOD = "PREF_TERM"}`` and ``[mapping.AE.codes.AESER]
    Yes = "Y"``: one table per SDTM domain the product loads."""
    t = _Reader(file_name, "mapping", raw)
    mappings = []
    for domain, table in t.data.items():
        if domain.upper() not in DELIVERED_DOMAINS:
            t.fail(domain, "an SDTM domain out of " + ", ".join(DELIVERED_DOMAINS), domain)
        m = _Reader(file_name, f"mapping.{domain}", table)
        unknown = sorted(set(m.data) - {"columns", "codes"})
        if unknown:
            raise ConfigError(f"{file_name}: [mapping.{domain}] has unknown key(s) "
                              f"{', '.join(unknown)}")
        columns = _Reader(file_name, f"mapping.{domain}.columns", m.data.get("columns", {}))
        codes = _Reader(file_name, f"mapping.{domain}.codes", m.data.get("codes", {}))
        for key in columns.data:
            columns.get(key, "str")
        code_maps = {}
        for variable, table in codes.data.items():
            c = _Reader(file_name, f"mapping.{domain}.codes.{variable}", table)
            code_maps[variable.upper()] = {str(k).upper(): c.get(k, "str") for k in c.data}
        mappings.append(DomainMapping(
            domain.upper(), {k.upper(): v.strip().upper() for k, v in columns.data.items()},
            code_maps))
    return tuple(mappings)


def _read_delivery(t: _Reader) -> DeliveryRules:
    default = DeliveryRules()
    incremental = tuple(d.upper() for d in t.get("incremental", "strlist", []))
    unknown = [d for d in incremental if d not in DELIVERED_DOMAINS]
    if unknown:
        t.fail("incremental", "a list of SDTM domains out of " + ", ".join(DELIVERED_DOMAINS),
               unknown)
    unknown_keys = sorted(set(t.data) - {
        "incremental", "max_removed_records", "max_removed_subjects", "max_removed_dlts",
        "max_removed_saes", "max_removed_deaths", "max_quarantined", "future_days"})
    if unknown_keys:
        raise ConfigError(f"{t.file_name}: [delivery] has unknown key(s) {', '.join(unknown_keys)}")
    return DeliveryRules(
        incremental=incremental,
        max_removed_records=float(t.get("max_removed_records", "share",
                                        default.max_removed_records)),
        max_removed_subjects=t.get("max_removed_subjects", "count", default.max_removed_subjects),
        max_removed_dlts=t.get("max_removed_dlts", "count", default.max_removed_dlts),
        max_removed_saes=t.get("max_removed_saes", "count", default.max_removed_saes),
        max_removed_deaths=t.get("max_removed_deaths", "count", default.max_removed_deaths),
        max_quarantined=float(t.get("max_quarantined", "share", default.max_quarantined)),
        future_days=t.get("future_days", "count", default.future_days),
    )


def _read_design(t: _Reader) -> Design:
    skeleton = t.get("skeleton", "problist", None)
    if skeleton is not None and any(b <= a for a, b in zip(skeleton, skeleton[1:], strict=False)):
        t.fail("skeleton", "strictly increasing", skeleton)
    return Design(
        name=t.get("name", "str", choices=DESIGNS),
        target=float(t.get("target", "prob")),
        cohort_size=t.get("cohort_size", "posint"),
        max_subjects=t.get("max_subjects", "posint", None),
        start_dose_level=t.get("start_dose_level", "posint", 1),
        skeleton=tuple(float(p) for p in skeleton) if skeleton is not None else None,
        model=t.get("model", "str", "empiric", choices=("empiric", "logistic")),
    )


def _read_cohorts(file_name: str, raw: Any) -> tuple[Cohort, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{file_name}: [[cohorts]] must be an array of tables, got {raw!r}")
    cohorts = []
    for i, item in enumerate(raw, start=1):
        t = _Reader(file_name, f"cohorts #{i}", item)
        is_control = t.get("control", "bool", False)
        dose_level = None if is_control else t.get("dose_level", "posint")
        cohort_id = t.get("id", "str")
        cohorts.append(
            Cohort(
                cohort_id=cohort_id,
                label=t.get("label", "str"),
                is_control=is_control,
                dose_level=dose_level,
                dose=float(t.get("dose", "number")) if not is_control else None,
                dose_unit=t.get("unit", "str") if not is_control else None,
                planned_subjects=t.get("planned_subjects", "posint", None),
                arm_codes=tuple(t.get("arm_codes", "strlist", [cohort_id])),
                treatment=t.get("treatment", "str", None) if is_control else None,
            )
        )
    ids = [c.cohort_id for c in cohorts]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{file_name}: [[cohorts]] id must be unique, got {ids}")
    levels = sorted(c.dose_level for c in cohorts if not c.is_control)
    if levels != list(range(1, len(levels) + 1)):
        raise ConfigError(
            f"{file_name}: [[cohorts]] dose_level must number the dose cohorts 1, 2, 3, ... "
            f"without gaps, got {levels}"
        )
    return tuple(cohorts)


def _read_dlt(file_name: str, t: _Reader) -> DltDefinition:
    window = t.get("window_days", "posint")
    lab = []
    for i, item in enumerate(t.data.get("lab_criteria", []), start=1):
        lt = _Reader(file_name, f"dlt.lab_criteria #{i}", item)
        lab.append(
            LabDltCriterion(term=lt.get("term", "str"), min_grade=lt.get("min_grade", "grade"))
        )
    min_exposure = t.get("min_exposure", "fraction", None)
    return DltDefinition(
        window_days=window,
        min_grade=t.get("min_grade", "grade"),
        require_related=t.get("require_related", "bool", True),
        always_terms=tuple(t.get("always_terms", "strlist", [])),
        excluded_terms=tuple(t.get("excluded_terms", "strlist", [])),
        lab_criteria=tuple(lab),
        min_exposure=None if min_exposure is None else float(min_exposure),
        planned_administrations=t.get("planned_administrations", "posint", 1),
    )


def _read_labs(t: _Reader) -> LabSettings:
    return LabSettings(
        inr_anticoagulated=t.get("inr_anticoagulated", "bool", False),
        anticoagulation_qnam=t.get("anticoagulation_qnam", "str", None),
    )


def _read_stopping_rule(file_name: str, index: int, raw: Any) -> StoppingRule:
    t = _Reader(file_name, f"stopping_rules #{index + 1}", raw)
    kind = t.get("kind", "str", choices=STOPPING_RULE_KINDS)
    name = t.get("name", "str", kind)
    if kind == "hard_stop_terms":
        return StoppingRule(kind, name, terms=tuple(t.get("terms", "strlist")))
    if kind == "k_of_first_n":
        k, n = t.get("k", "posint"), t.get("n", "posint")
        if k > n:
            t.fail("k", f"at most n ({n})", k)
        return StoppingRule(kind, name, k=k, n=n)
    if kind == "too_toxic":
        return StoppingRule(kind, name, certainty=float(t.get("certainty", "prob")))
    return StoppingRule(kind, name, n=t.get("n", "posint"))


@functools.lru_cache(maxsize=128)
def stored_study_config(config_toml: str, study_id: str) -> StudyConfig:
    """The configuration recorded with a study in the database, parsed once per distinct text
    (a new text is a new data version): every reader of the stored configuration asks here."""
    return parse_study_config(config_toml, f"{study_id} (stored configuration)")


def study_config_dirs() -> list[Path]:
    """Where study configurations are looked for: the folders of ``$SAFETY_STUDIES``
    (separated by the OS path separator, first wins), then ``data/studies``."""
    extra = os.environ.get("SAFETY_STUDIES", "")
    return [Path(p) for p in extra.split(os.pathsep) if p] + [STUDIES_DIR]


def study_config_paths(directory: Path | None = None) -> list[Path]:
    """The study configuration files of one folder, or of every folder of
    :func:`study_config_dirs`."""
    folders = [directory] if directory is not None else study_config_dirs()
    return [path for folder in folders for path in sorted(folder.glob("*.toml"))]


def find_study_config(study_id: str, directory: Path | None = None) -> StudyConfig:
    """The configuration whose ``[study] id`` is ``study_id`` (case-insensitive); the first
    found in :func:`study_config_dirs` order."""
    for path in study_config_paths(directory):
        config = load_study_config(path)
        if config.study_id.lower() == study_id.lower():
            return config
    where = directory or " or ".join(str(d) for d in study_config_dirs())
    raise ConfigError(f"no study configuration with id {study_id!r} in {where}")
