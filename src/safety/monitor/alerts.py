"""Safety alerts: what a safety officer must hear about when new data arrive.

Rules over the current data of a study (each alert carries severity, study, cohort, patient, the
clinical date and a dashboard link):

- ``sae``: a serious adverse event (AESER = Y);
- ``dlt``: a DLT candidate by the protocol's rules (``queries.dlt.dlt_events``; rejected ones never);
- ``grade3``: a non-serious AE of CTCAE grade 3 or more (a serious one is already an ``sae``);
- ``hys_law``: a potential Hy's law case (``safety.clinical.labs.hys_law_candidates``: ALT or AST
  >= 3 x ULN with total bilirubin >= 2 x ULN after the first dose);
- ``rule``: a study stopping rule changing state (ok / warning / triggered);
- ``accrual_pause``: a cohort's accrual-pause rule changing state (more than half of the treated
  patients at a dose still inside their DLT window: accrual should pause);
- ``decision``: the escalation decision of a dose cohort, or the study's recommendation, changing.

When: :func:`refresh_alerts` runs after each ingest (the inbox watcher and the Data page call it)
and evaluates only the studies with a batch newer than their last evaluation, so alerts are
computed once per new batch, never on a page view. Each alert has a key (e.g. the SAE's subject,
term and start) and is raised once. The first evaluation of a study records what is already there
as *baseline* alerts, acknowledged by ``system``: they are not news to anyone, and a later
evaluation must not raise them again.

Acknowledgement (:func:`acknowledge_alerts`) needs a person and a comment, and writes one audit
log entry per alert (action ``alert.acknowledge``).

References
----------
ICH E2A (1994), definitions of a serious adverse event. FDA, Guidance for Industry "Drug-Induced
Liver Injury: Premarketing Clinical Evaluation" (2009): Hy's law. Yuan et al. (2018), TITE-BOIN:
the accrual suspension rule.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd

from safety import store
from safety.access import Action, Signature, User, check_signature, require
from safety.clinical import labs
from safety.config import StudyConfig, stored_study_config
from safety.errors import AlertError, SafetyError
from safety.links import escalation_link, patient_link
from safety.monitor.status import StudyStatus, study_status
from safety.store import audit, queries

log = logging.getLogger(__name__)

Severity = Literal["critical", "high", "medium", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "info")  # most urgent first
KINDS = ("sae", "dlt", "grade3", "hys_law", "rule", "accrual_pause", "decision")
SEVERE_GRADE = 3  # CTCAE v5.0 grade 3 "severe or medically significant": always worth a look
BASELINE_ACTOR = "system"
BASELINE_COMMENT = "present when alert monitoring began for this study (baseline)"
STUDY_SCOPE = "study"  # the key of study-level rules and the study's recommendation
ACCRUAL_RULE_PREFIX = "Accrual pause"  # safety.monitor.decisions.pending_state names it so
ALARMING_DECISIONS = ("de-escalate", "eliminate", "stop")
RULE_SEVERITY: dict[str, Severity] = {"triggered": "critical", "warning": "medium", "ok": "info"}


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert, as stored in the ``alert`` table (without its id and acknowledgement)."""

    study_id: str
    alert_key: str
    kind: str
    severity: Severity
    title: str
    detail: str
    event_date: date | None = None
    cohort_id: str | None = None
    usubjid: str | None = None
    link: str | None = None


@dataclass(frozen=True, slots=True)
class StudySnapshot:
    """What an evaluation saw of a study: rule states and decisions, by scope."""

    rule_states: dict[str, str]  # "study|rule name" or "COHORT|rule name" -> state
    decisions: dict[str, str]  # "study" or cohort id -> decision

    def to_json(self) -> tuple[str, str]:
        return (
            json.dumps(self.rule_states, sort_keys=True),
            json.dumps(self.decisions, sort_keys=True),
        )

    @classmethod
    def from_json(cls, rule_states: str | None, decisions: str | None) -> StudySnapshot | None:
        if rule_states is None or pd.isna(rule_states):
            return None
        return cls(json.loads(rule_states), json.loads(decisions or "{}"))


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of one study's evaluation: every alert its data justify, and the snapshot."""

    study_id: str
    batch_id: int
    alerts: tuple[Alert, ...]
    snapshot: StudySnapshot
    baseline: bool  # the study's first evaluation: alerts are recorded as already known


def _date(value) -> date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def _text(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def derive_event_alerts(study_id: str, events: pd.DataFrame) -> list[Alert]:
    """SAE and grade >= 3 alerts from ``queries.alerts.notable_adverse_events``.

    A serious AE gives one ``sae`` alert (critical); a non-serious AE of grade 3 or more gives
    one ``grade3`` alert (high). Key: subject, preferred term and AESTDTC as delivered, so a
    cumulative re-delivery of the same event is not news.
    """
    alerts = []
    for r in events.itertuples(index=False):  # a handful of rows: serious or severe AEs only
        serious = bool(r.serious)
        grade = None if pd.isna(r.grade) else int(r.grade)
        if not serious and (grade is None or grade < SEVERE_GRADE):
            continue
        kind = "sae" if serious else "grade3"
        grade_text = f"grade {grade}" if grade is not None else "grade not given"
        related = "related" if bool(r.related) else "not related"
        alerts.append(
            Alert(
                study_id=study_id,
                alert_key=f"{kind}|{r.usubjid}|{r.pt}|{_text(r.start_dtc) or _date(r.start_date)}",
                kind=kind,
                severity="critical" if serious else "high",
                title=f"{'SAE' if serious else f'Grade {grade} AE'}: {r.pt} in {r.usubjid}",
                detail=(
                    f"{r.pt}, {grade_text}, {related} ({_text(r.causality) or 'causality blank'}),"
                    f" started {_date(r.start_date) or 'on an unknown day'}; outcome "
                    f"{_text(r.outcome) or 'not given'}."
                ),
                event_date=_date(r.start_date),
                cohort_id=_text(r.cohort_id),
                usubjid=str(r.usubjid),
                link=patient_link(study_id, str(r.usubjid)),
            )
        )
    return alerts


def derive_dlt_alerts(study_id: str, dlts: pd.DataFrame) -> list[Alert]:
    """One critical ``dlt`` alert per DLT candidate, confirmed or added DLT (``queries.dlt.dlt_events``)."""
    alerts = []
    for r in dlts.itertuples(index=False):
        if r.dlt_status == "rejected":
            continue
        onset = _date(r.onset_date)
        alerts.append(
            Alert(
                study_id=study_id,
                alert_key=f"dlt|{r.source}|{r.usubjid}|{r.term}|{onset}",
                kind="dlt",
                severity="critical",
                title=f"DLT {r.dlt_status}: {r.term} in {r.usubjid}",
                detail=(
                    f"{r.term} (grade {'?' if pd.isna(r.grade) else int(r.grade)}) on "
                    f"{onset}, study day {'?' if pd.isna(r.onset_day) else int(r.onset_day)}: "
                    f"{r.dlt_rule}. Adjudicate it on the patient page."
                ),
                event_date=onset,
                cohort_id=_text(r.cohort_id),
                usubjid=str(r.usubjid),
                link=patient_link(study_id, str(r.usubjid)),
            )
        )
    return alerts


def derive_hys_law_alerts(study_id: str, candidates: pd.DataFrame) -> list[Alert]:
    """One critical ``hys_law`` alert per potential Hy's law subject (``labs.hys_law_candidates``)."""
    alerts = []
    for r in candidates.itertuples(index=False):
        cholestatic = " (ALP >= 2 x ULN: cholestatic, look closer)" if r.cholestatic else ""
        alerts.append(
            Alert(
                study_id=study_id,
                alert_key=f"hys_law|{r.usubjid}",
                kind="hys_law",
                severity="critical",
                title=f"Potential Hy's law: {r.usubjid}",
                detail=(
                    f"Peak {r.transaminase} {r.transaminase_x_uln:.1f} x ULN with total "
                    f"bilirubin {r.bili_x_uln:.1f} x ULN{cholestatic}."
                ),
                event_date=_date(r.bili_date),
                cohort_id=_text(r.cohort_id),
                usubjid=str(r.usubjid),
                link=patient_link(study_id, str(r.usubjid)),
            )
        )
    return alerts


def snapshot_of(status: StudyStatus) -> StudySnapshot:
    """Rule states and decisions of a study status, keyed by scope (study or cohort id)."""
    rules = {f"{STUDY_SCOPE}|{r.name}": r.state for r in status.rules}
    decisions = {STUDY_SCOPE: _recommendation(status)}
    for c in status.cohorts:
        if c.control:
            continue
        decisions[c.cohort_id] = c.decision_label
        for r in c.rules:
            if r.name.startswith(ACCRUAL_RULE_PREFIX):
                rules[f"{c.cohort_id}|{r.name}"] = r.state
    return StudySnapshot(rules, decisions)


def _recommendation(status: StudyStatus) -> str:
    level = status.recommended_dose_level
    return status.decision_label + (f" (dose level {level})" if level else "")


def derive_change_alerts(
    status: StudyStatus, before: StudySnapshot | None, after: StudySnapshot, batch_id: int
) -> list[Alert]:
    """Alerts for rule states and decisions that differ from the previous evaluation.

    With no previous evaluation, rules not ``ok`` are reported (as baseline) and decisions are
    only recorded. Keys carry the batch, so a rule that flips back and forth alerts each time.
    """
    study_id = status.study_id
    link = escalation_link(study_id)
    details = {f"{STUDY_SCOPE}|{r.name}": r.detail for r in status.rules}
    for c in status.cohorts:
        details.update({f"{c.cohort_id}|{r.name}": r.detail for r in c.rules})
    labels = {c.cohort_id: c.label for c in status.cohorts}
    alerts = []
    for key, state in after.rule_states.items():
        old = before.rule_states.get(key) if before else None
        if state == old or (old is None and state == "ok"):
            continue
        scope, name = key.split("|", 1)
        cohort = None if scope == STUDY_SCOPE else scope
        accrual = name.startswith(ACCRUAL_RULE_PREFIX)
        where = f" in {labels.get(scope, scope)}" if cohort else ""
        was = f" (was {old})" if old else ""
        title = (
            f"Accrual should pause{where}"
            if accrual and state == "triggered"
            else f"Rule {state}{where}: {name}{was}"
        )
        severity: Severity = (
            "high" if accrual and state == "triggered" else RULE_SEVERITY.get(state, "medium")
        )
        alerts.append(
            Alert(
                study_id=study_id,
                alert_key=f"rule|{key}|{state}|b{batch_id}",
                kind="accrual_pause" if accrual else "rule",
                severity=severity,
                title=title,
                detail=details.get(key, ""),
                event_date=status.cutoff,
                cohort_id=cohort,
                link=link,
            )
        )
    if before is None:
        return alerts
    reasons = {c.cohort_id: c.reason for c in status.cohorts}
    reasons[STUDY_SCOPE] = status.recommendation_reason
    for scope, decision in after.decisions.items():
        old = before.decisions.get(scope)
        if old is None or old == decision:
            continue
        cohort = None if scope == STUDY_SCOPE else scope
        what = "Recommendation" if cohort is None else f"Decision for {labels.get(scope, scope)}"
        alarming = decision.split(" ")[0] in ALARMING_DECISIONS
        alerts.append(
            Alert(
                study_id=study_id,
                alert_key=f"decision|{scope}|{old}->{decision}|b{batch_id}",
                kind="decision",
                severity="critical" if alarming else "high",
                title=f"{what} changed: {old} -> {decision}",
                detail=reasons.get(scope, ""),
                event_date=status.cutoff,
                cohort_id=cohort,
                link=link,
            )
        )
    return alerts


def evaluate_study(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    batch_id: int,
    before: StudySnapshot | None,
) -> Evaluation:
    """Every alert the study's current data justify at the cut-off, and its new snapshot.

    Parameters
    ----------
    con
        A read connection.
    config
        The study's stored configuration.
    cutoff
        The study's data cut-off (the last day its data cover).
    batch_id
        The study's latest batch: recorded with the alerts.
    before
        What the previous evaluation saw (None: first evaluation, alerts become baseline).
    """
    study_id = config.study_id
    status = study_status(con, config, cutoff)
    after = snapshot_of(status)
    alerts = derive_event_alerts(study_id, queries.alerts.notable_adverse_events(con, study_id))
    alerts += derive_dlt_alerts(study_id, queries.dlt.dlt_events(con, study_id, cutoff))
    peaks = queries.labs.lab_liver_peaks(con, study_id, cutoff)
    if not peaks.empty:
        alerts += derive_hys_law_alerts(study_id, labs.hys_law_candidates(labs.derive_edish(peaks)))
    alerts += derive_change_alerts(status, before, after, batch_id)
    return Evaluation(study_id, batch_id, tuple(alerts), after, baseline=before is None)


def refresh_alerts(db: str | Path | None = None, now: datetime | None = None) -> list[Alert]:
    """Evaluate the alert rules for every study with new batches and store the new alerts.

    Cheap when nothing is new (one short read). Safe to call from several processes: the write
    re-checks, inside its transaction, that no one evaluated the same batches meanwhile, and an
    alert whose key exists is never stored twice.

    Returns
    -------
    list of Alert
        The alerts raised now (baseline alerts of a first evaluation are not returned).
    """
    with store.read_connection(db) as con:
        todo = queries.alerts.alert_studies_to_evaluate(con)
        evaluations = []
        for row in todo.itertuples(index=False):
            config = stored_study_config(row.config_toml, row.study_id)
            cutoff = _date(row.data_cutoff) or date.today()
            before = StudySnapshot.from_json(row.rule_states, row.decisions)
            try:
                evaluations.append(
                    evaluate_study(con, config, cutoff, int(row.latest_batch), before))
            except SafetyError as exc:  # one study's failure never hides the others'
                log.warning("alerts for %s not evaluated: %s", row.study_id, exc)
    if not evaluations:
        return []
    at = now or store.now()
    raised: list[Alert] = []
    with store.write_connection(db) as con:
        for ev in evaluations:
            done = queries.alerts.alert_evaluated_batch(con, ev.study_id)
            if done is not None and done >= ev.batch_id:
                continue  # another process evaluated these batches meanwhile
            known = queries.alerts.alert_keys(con, ev.study_id)
            new = list({a.alert_key: a for a in ev.alerts if a.alert_key not in known}.values())
            _insert(con, new, ev, at)
            rule_states, decisions = ev.snapshot.to_json()
            queries.alerts.save_alert_state(
                con,
                study_id=ev.study_id,
                evaluated_batch=ev.batch_id,
                at=at,
                rule_states=rule_states,
                decisions=decisions,
            )
            if new:
                queries.database.record_audit(
                    con,
                    actor=BASELINE_ACTOR,
                    action="alert.raise",
                    at=at,
                    study_id=ev.study_id,
                    detail=json.dumps(
                        {
                            "batch_id": ev.batch_id,
                            "alerts": len(new),
                            "baseline": ev.baseline,
                            "keys": [a.alert_key for a in new],
                        }
                    ),
                )
            if not ev.baseline:
                raised += new
            log.info(
                "alerts for %s at batch %d: %d new%s",
                ev.study_id,
                ev.batch_id,
                len(new),
                " (baseline)" if ev.baseline else "",
            )
    return raised


def _insert(
    con: duckdb.DuckDBPyConnection, alerts: list[Alert], ev: Evaluation, at: datetime
) -> None:
    if not alerts:
        return
    frame = pd.DataFrame([asdict(a) for a in alerts])
    frame["raised_at"] = at
    frame["batch_id"] = ev.batch_id
    frame["event_date"] = pd.to_datetime(frame["event_date"])
    if ev.baseline:
        frame["acknowledged_by"] = BASELINE_ACTOR
        frame["acknowledged_at"] = at
        frame["ack_comment"] = BASELINE_COMMENT
    queries.database.insert_frame(con, "alert", frame)


def acknowledge_alerts(
    db: str | Path | None,
    alert_ids: list[int],
    user: User,
    comment: str,
    now: datetime | None = None,
    *,
    signature: Signature | None = None,
) -> list[int]:
    """Acknowledge alerts with a comment and an electronic signature ("I have reviewed this
    alert and acknowledge it"); one audit entry and one signature record per alert.

    Alerts already acknowledged by a person are left as they are (the first acknowledgement
    stands); a baseline alert (acknowledged by ``system``) is acknowledged by the person now.

    Returns
    -------
    list of int
        The ids acknowledged now.

    Raises
    ------
    AlertError
        When the comment is blank, no id is given or an alert does not exist.
    AccessDenied
        When the user may not acknowledge alerts of an alert's study (safety officers may).
    SignatureError
        No signature, or not a valid one.
    """
    comment = (comment or "").strip()
    if not alert_ids:
        raise AlertError("choose at least one alert to acknowledge")
    if not comment:
        raise AlertError("an acknowledgement needs a comment: what was seen or done")
    at = now or store.now()
    with store.write_connection(db) as con:
        studies = queries.alerts.alert_studies(con, list(alert_ids))
        unknown = sorted(set(map(int, alert_ids)) - set(studies))
        if unknown:
            raise AlertError(f"no alert {unknown[0]} in the database")
        for study_id in sorted(set(studies.values())):
            require(user, Action.ACKNOWLEDGE_ALERT, study_id)
        signature = check_signature(signature, user, "alert.acknowledge", now=at)
        ids = []
        for alert_id in sorted(studies):
            signature_id = queries.signatures.next_signature_id(con)
            changed = queries.alerts.acknowledge_alert(
                con, alert_id, actor=user.id, at=at, comment=comment, signature_id=signature_id,
                baseline_actor=BASELINE_ACTOR,
            )
            if changed is None:
                continue  # acknowledged before: the first acknowledgement stands
            _, study_id, usubjid, key, title = changed
            audit.record_signed_act(
                con, signature, signature_id=signature_id, record_table="alert",
                record_id=alert_id, action="alert.acknowledge", at=at, study_id=study_id,
                usubjid=_text(usubjid),
                detail={"alert_id": alert_id, "alert_key": key, "title": title, "comment": comment},
            )  # fmt: skip
            ids.append(alert_id)
    log.info("%s acknowledged alerts %s", user.id, ids)
    return ids
