"""A plain-language summary of one patient's safety course, made from the records only.

A starting point for a CIOMS / SAE narrative: every sentence is built from fields of the
patient's records and carries the records it came from (``Sentence.sources``: ``"DM"``,
``"EX 1"``, ``"AE 5"``, ``"LB 123"``, ``"DLT manual 1"``, ``"DLT state"``), so a reader can
check it against the listings. Nothing is inferred beyond the data: no diagnosis, no
judgement of causality other than the one recorded, no outcome that was not recorded; where a
field is missing, the sentence says "not recorded".

What is told, in order: who the patient is (age, sex, race, site, cohort and dose); the dosing;
the status at the cut-off; an overview of the adverse events; each serious, grade >= 3 or DLT
adverse event with its onset day, grade, seriousness, causality, outcome and DLT adjudication;
lab results that met the protocol's lab DLT criterion; DLTs added by hand; lab results of CTCAE grade >= 2 (the worst per term); the DLT-window state.

References
----------
CIOMS Working Group (1990). International reporting of adverse drug reactions: CIOMS Form I
(the case narrative). ICH E2A (1994), clinical safety data management.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from safety.monitor.patient import DLT_STATE_TEXT, PatientProfile

NOTABLE_MIN_GRADE = 3  # grade >= 3 AEs are told one by one, as are serious ones and DLTs
LAB_MIN_GRADE = 2  # lab results of grade >= 2 are told (the worst per CTCAE term)
SEX_WORDS = {"F": "female", "M": "male"}
STATUS_WORDS = {"screening": "in screening", "screen failure": "a screen failure"}


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of the narrative and the records it was made from."""

    text: str
    sources: tuple[str, ...]


def patient_narrative(profile: PatientProfile) -> list[Sentence]:
    """The narrative of one patient's safety course at the profile's cut-off.

    Parameters
    ----------
    profile : PatientProfile
        From ``safety.monitor.patient.load_profile``.

    Returns
    -------
    list of Sentence
        In reading order; ``narrative_text`` joins them.
    """
    s = profile.subject
    sentences = [_introduction(profile), *_dosing(profile), _status(profile)]
    sentences.extend(_adverse_events(profile))
    sentences.extend(_lab_dlts(profile))
    sentences.extend(_manual_dlts(profile))
    sentences.extend(_labs(profile))
    if (profile.window_days is not None and s.get("first_dose_date") is not None
            and s["first_dose_date"] <= profile.cutoff):
        sentences.append(_dlt_window(profile))
    return sentences


def narrative_text(sentences: list[Sentence]) -> str:
    """The sentences as one paragraph of plain text."""
    return " ".join(s.text for s in sentences)


def race_words(race: str) -> str:
    """A CDISC controlled-terminology race (DM.RACE, upper case) as written in a sentence:
    "ASIAN" -> "Asian", "BLACK OR AFRICAN AMERICAN" -> "Black or African American"."""
    return " ".join(w if w in ("or", "and", "of") else w.capitalize()
                    for w in str(race).lower().split())


def _introduction(p: PatientProfile) -> Sentence:
    s = p.subject
    age = f"{s['age']}-year-old" if s.get("age") is not None else "age not recorded,"
    sex = SEX_WORDS.get(s.get("sex") or "", f"sex {s.get('sex') or 'not recorded'}")
    race = f", race {race_words(s['race'])}," if s.get("race") else ""
    cohort = s.get("cohort_label") or s.get("cohort_id") or "no cohort"
    if s.get("is_control"):
        dose = "control"
    elif s.get("dose") is not None:
        dose = f"{s['dose']:g} {s.get('dose_unit') or ''}".strip()
        dose += ", illustrative dose" if s.get("dose_illustrative") else ""
    else:
        dose = "dose not recorded"
    site = f" at site {s['site_id']}" if s.get("site_id") else ""
    return Sentence(
        f"Patient {p.usubjid} of study {p.study_id} is a {age} {sex} patient{race}{site}, "
        f"in the {cohort} cohort ({dose}).",
        ("DM",),
    )


def _dosing(p: PatientProfile) -> list[Sentence]:
    first = p.first_dose_date
    if first is None:
        return [
            Sentence(f"The patient had not been dosed by the data cut-off ({p.cutoff}).", ("DM",))
        ]
    ex = p.exposure
    if ex.empty:
        return [Sentence(f"The first dose was given on {first} (study day 1).", ("DM",))]
    row = ex.iloc[0]
    # control: the vehicle, not "0 million cells" of it
    dose = (f" {row['dose']:g} {row['dose_unit'] or ''}".rstrip()
            if pd.notna(row["dose"]) and not p.subject.get("is_control") else "")
    route = f" ({str(row['route']).lower()})" if pd.notna(row["route"]) else ""
    out = [
        Sentence(
            f"The patient received {row['treatment']}{dose}{route} on {_d(row['start_date'])} "
            f"(study day {int(row['start_day'])}).",
            (f"EX {int(row['seq'])}",),
        )
    ]
    if len(ex) > 1:
        last = ex.iloc[-1]
        out.append(
            Sentence(
                f"{len(ex)} administrations were recorded by the cut-off, the last on "
                f"{_d(last['start_date'])} (study day {int(last['start_day'])}).",
                tuple(f"EX {int(q)}" for q in ex["seq"]),
            )
        )
    return out


def _status(p: PatientProfile) -> Sentence:
    s = p.subject
    status = s.get("status_at_cutoff")
    day = s.get("days_on_study")
    on_day = f", study day {day}" if day is not None else ""
    if status == "completed" and s.get("end_of_study_date"):
        text = f"The patient completed the study on {s['end_of_study_date']}{on_day}."
    elif status == "withdrawn":
        reason = f" ({str(s['status_reason']).lower()})" if s.get("status_reason") else ""
        when = f" on {s['end_of_study_date']}" if s.get("end_of_study_date") else ""
        text = f"The patient withdrew from the study{when}{reason}{on_day}."
    elif status == "died":
        when = f" on {s['death_date']}" if s.get("death_date") else ""
        text = f"The patient died{when}{on_day}."
    else:
        words = STATUS_WORDS.get(status, status)
        text = f"At the data cut-off ({p.cutoff}) the patient was {words}{on_day}."
    return Sentence(text, ("DM",))


def _adverse_events(p: PatientProfile) -> list[Sentence]:
    ae = p.adverse_events
    if ae.empty:
        return [Sentence(f"No adverse event was recorded by the cut-off ({p.cutoff}).", ("AE",))]
    grades = ae["grade"].dropna()
    worst = f"worst CTCAE grade {int(grades.max())}" if len(grades) else "no grade recorded"
    serious = int(ae["serious"].sum())
    related = int(ae["related"].sum())
    out = [
        Sentence(
            f"{len(ae)} adverse event{'s' if len(ae) != 1 else ''} started by the cut-off "
            f"({worst}); {serious} {'was' if serious == 1 else 'were'} serious and {related} "
            f"{'was' if related == 1 else 'were'} recorded as related to study treatment.",
            tuple(f"AE {int(q)}" for q in ae["seq"]),
        )
    ]
    dlt = p.dlt_events[p.dlt_events["source"] == "adverse_event"]
    dlt_by_seq = {int(r.source_seq): r for r in dlt.itertuples()}
    for row in ae.itertuples():  # a patient has a handful of AEs
        seq = int(row.seq)
        notable = (
            bool(row.serious)
            or (pd.notna(row.grade) and row.grade >= NOTABLE_MIN_GRADE)
            or seq in dlt_by_seq
        )
        if not notable:
            continue
        out.append(_ae_sentence(row, dlt_by_seq.get(seq)))
    return out


def _ae_sentence(row, dlt) -> Sentence:
    grade = f"CTCAE grade {int(row.grade)}" if pd.notna(row.grade) else "grade not recorded"
    seriousness = "serious" if row.serious else "not serious"
    related = "related" if row.related else "not related"
    causality = str(row.causality).lower() if pd.notna(row.causality) else "not recorded"
    counted = "" if causality == related else f", counted as {related}"
    verbatim = (
        f' (reported as "{row.verbatim}")'
        if pd.notna(row.verbatim) and str(row.verbatim).lower() != str(row.pt).lower()
        else ""
    )
    when = (
        f"study day {int(row.start_day)} ({_d(row.start_date)})"
        if pd.notna(row.start_day)
        else _d(row.start_date)
    )
    text = (
        f"On {when}, {row.pt}{verbatim} began: "
        f"{grade}, {seriousness}, causality {causality}{counted}."
    )
    if row.ongoing:
        text += " It was ongoing at the cut-off."
    else:
        outcome = f"; outcome {str(row.outcome).lower()}" if pd.notna(row.outcome) else ""
        day = f" (study day {int(row.end_day)})" if pd.notna(row.end_day) else ""
        text += f" It ended on {_d(row.end_date)}{day}{outcome}."
    if dlt is not None:
        text += " " + _dlt_clause(dlt)
    return Sentence(text, (f"AE {int(row.seq)}",))


def _dlt_clause(dlt) -> str:
    rule = f"DLT candidate by the protocol rule ({dlt.dlt_rule})"
    if dlt.dlt_status == "candidate":
        return f"It is a {rule}, not adjudicated yet."
    return f"It was a {rule}, {_adjudication(dlt)}."


def _adjudication(dlt) -> str:
    """'confirmed as a DLT, signed Sam Safety (sam), 2021-01-20 09:30 UTC: I confirm this
    event as a DLT: "reason"' (the latest adjudication, with its electronic signature)."""
    by = _signed(dlt)
    reason = f': "{dlt.adjudication_reason}"' if pd.notna(dlt.adjudication_reason) else ""
    verb = {"confirmed": "confirmed as a DLT", "rejected": "rejected as a DLT"}.get(
        dlt.dlt_status, str(dlt.dlt_status)
    )
    return f"{verb}{by}{reason}"


def _signed(dlt) -> str:
    """', signed <name, time, meaning>' (or who and when, for a record without a signature)."""
    if pd.notna(getattr(dlt, "signature", None)):
        return f", signed {dlt.signature}"
    return f" by {dlt.decided_by} on {_d(dlt.decided_at)}" if pd.notna(dlt.decided_by) else ""


def _lab_dlts(p: PatientProfile) -> list[Sentence]:
    labs = p.dlt_events[p.dlt_events["source"] == "lab"]
    out = []
    for row in labs.itertuples():
        status = "not adjudicated yet" if row.dlt_status == "candidate" else _adjudication(row)
        out.append(
            Sentence(
                f"On study day {int(row.onset_day)} ({_d(row.onset_date)}), a lab result met the "
                f"protocol's lab DLT criterion ({row.dlt_rule}): a DLT candidate, {status}.",
                (f"LB {int(row.source_seq)}",),
            )
        )
    return out


def _manual_dlts(p: PatientProfile) -> list[Sentence]:
    manual = p.dlt_events[p.dlt_events["source"] == "manual"]
    out = []
    for row in manual.itertuples():
        status = "" if row.dlt_status == "added" else f", since {row.dlt_status}"
        out.append(
            Sentence(
                f"A DLT was added by adjudication: {row.term}, onset {_d(row.onset_date)} "
                f"(study day {int(row.onset_day)}){_signed(row)}{status}: "
                f'"{row.adjudication_reason}".',
                (f"DLT manual {int(row.source_seq)}",),
            )
        )
    return out


def _labs(p: PatientProfile) -> list[Sentence]:
    if p.labs.empty:
        return [Sentence("No lab result was recorded by the cut-off.", ("LB",))]
    worst = p.lab_abnormalities(LAB_MIN_GRADE)
    if worst.empty:
        return [
            Sentence(
                f"No lab result reached CTCAE grade {LAB_MIN_GRADE} or higher by the cut-off.",
                ("LB",),
            )
        ]
    out = []
    for row in worst.itertuples():
        x_uln = f", {row.x_uln:.1f} x ULN" if pd.notna(row.x_uln) and row.x_uln > 1 else ""
        unit = f" {row.unit}" if pd.notna(row.unit) else ""
        visit = f", {row.visit}" if pd.notna(row.visit) else ""
        more = (
            f" ({int(row.results)} results of grade {LAB_MIN_GRADE} or higher)"
            if row.results > 1
            else ""
        )
        day = f"study day {int(row.study_day)}, " if pd.notna(row.study_day) else ""
        out.append(
            Sentence(
                f"{row.ctcae_term}: the worst result was CTCAE grade {int(row.worst_grade)}, "
                f"{row.test_code} {row.value:g}{unit}{x_uln} ({day}{_d(row.collected_date)}"
                f"{visit}){more}.",
                (f"LB {int(row.seq)}",),
            )
        )
    return out


def _dlt_window(p: PatientProfile) -> Sentence:
    state = p.dlt_state
    name = state.get("dlt_state")
    end = state.get("window_end")
    verb = "ends" if end is not None and end > p.cutoff else "ended"
    text = (f"DLT assessment window: study days 1 to {p.window_days}, it {verb} on {end}: ")
    if name == "pending":
        left = int(state.get("days_left") or 0)
        text += f"pending at the cut-off, {left} day{'' if left == 1 else 's'} left."
    elif name == "DLT":
        n = int(state.get("dlts") or 0)
        text += f"DLT ({n} counted event{'s' if n != 1 else ''})."
    elif state.get("state_reason"):
        text += f"{DLT_STATE_TEXT.get(name, name)}: {state['state_reason']}."
    else:
        text += f"{DLT_STATE_TEXT.get(name, name)}."
    return Sentence(text, ("DLT state",))


def _d(value) -> str:
    """A date (or timestamp) as YYYY-MM-DD."""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat() if not hasattr(value, "hour") else value.date().isoformat()
    return str(value)
