"""Who may do what: the roles, the acts and reads they allow, the acting user, and the one check
every write and every closed-data read of the library makes (:func:`require`).

Roles are granted per study (``"*"``: every study) from identity-provider groups or claims, or
from operating-system and service accounts for the command line (:mod:`.config`). The matrix
follows who needs what in a phase 1 trial:

- **safety officer** (medical monitor): everything by cohort, adjudicates DLTs, acknowledges
  alerts, builds and signs off the DSMB reports;
- **investigator**: her own sites' patients only (profile, DLT adjudication, review), and the
  pooled open views;
- **DSMB member**: closed results (by cohort, listings, the closed report), reads only;
- **sponsor / study team**: open views only, pooled over cohorts (FDA DMC guidance, 2006,
  section 6.5: closed results only to the committee); never a by-cohort number;
- **data manager**: deliveries (upload, ledger, quarantine, holds, retractions);
- **administrator**: users and roles, and the audit trail's metadata; no clinical data.

References
----------
U.S. FDA (2006). Guidance for Clinical Trial Sponsors: Establishment and Operation of Clinical
Trial Data Monitoring Committees, section 6.5. 21 CFR 11.10(d) and (g): limiting system access
to authorised individuals, authority checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from safety.errors import AccessDenied

ALL_STUDIES = "*"


class Role(StrEnum):
    SAFETY_OFFICER = "safety_officer"
    INVESTIGATOR = "investigator"
    DSMB = "dsmb"
    SPONSOR = "sponsor"
    DATA_MANAGER = "data_manager"
    ADMIN = "admin"


ROLE_TITLES = {
    Role.SAFETY_OFFICER: "safety officer",
    Role.INVESTIGATOR: "investigator",
    Role.DSMB: "DSMB member",
    Role.SPONSOR: "sponsor / study team",
    Role.DATA_MANAGER: "data manager",
    Role.ADMIN: "administrator",
}


class Action(StrEnum):
    """An act or a kind of read. The value is what the audit trail and messages name."""

    VIEW_OPEN = "view.open"  # pooled views: the open report, enrolment and safety overall
    VIEW_CLOSED = "view.closed"  # anything by cohort: decisions, tables, listings, alerts
    VIEW_PATIENT = "view.patient"  # one patient's records
    VIEW_DELIVERIES = "view.deliveries"  # batch ledger, quarantine, data cuts
    ADJUDICATE_DLT = "dlt.adjudicate"
    REVIEW_PATIENT = "patient.review"
    ACKNOWLEDGE_ALERT = "alert.acknowledge"
    INGEST = "data.ingest"  # load deliveries: upload, ingest, watch
    CONFIRM_DELIVERY = "delivery.confirm"
    RETRACT_DELIVERY = "delivery.retract"
    BUILD_REPORT = "report.build"
    SIGN_REPORT = "report.sign"
    VIEW_AUDIT = "audit.view"  # the audit trail's entries (who, when, what kind), not details
    MANAGE_ACCESS = "access.manage"  # users and roles
    BUILD_DATABASE = "database.build"  # a new (demo) database replacing the file


# What each act is, for messages ("... may not <phrase> in NCT04232592").
ACTION_PHRASES = {
    Action.VIEW_OPEN: "see this study",
    Action.VIEW_CLOSED: "see results by cohort (closed data)",
    Action.VIEW_PATIENT: "see this patient's records",
    Action.VIEW_DELIVERIES: "see the deliveries",
    Action.ADJUDICATE_DLT: "adjudicate DLTs",
    Action.REVIEW_PATIENT: "record patient reviews",
    Action.ACKNOWLEDGE_ALERT: "acknowledge alerts",
    Action.INGEST: "load deliveries",
    Action.CONFIRM_DELIVERY: "confirm deliveries",
    Action.RETRACT_DELIVERY: "retract deliveries",
    Action.BUILD_REPORT: "build DSMB reports",
    Action.SIGN_REPORT: "sign off DSMB reports",
    Action.VIEW_AUDIT: "see the audit trail",
    Action.MANAGE_ACCESS: "manage users and roles",
    Action.BUILD_DATABASE: "build a new database",
}

_A = Action
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.SAFETY_OFFICER: frozenset({
        _A.VIEW_OPEN, _A.VIEW_CLOSED, _A.VIEW_PATIENT, _A.VIEW_DELIVERIES, _A.ADJUDICATE_DLT,
        _A.REVIEW_PATIENT, _A.ACKNOWLEDGE_ALERT, _A.BUILD_REPORT, _A.SIGN_REPORT, _A.VIEW_AUDIT,
    }),
    Role.INVESTIGATOR: frozenset({
        _A.VIEW_OPEN, _A.VIEW_PATIENT, _A.ADJUDICATE_DLT, _A.REVIEW_PATIENT,
    }),
    Role.DSMB: frozenset({_A.VIEW_OPEN, _A.VIEW_CLOSED, _A.VIEW_PATIENT, _A.BUILD_REPORT}),
    Role.SPONSOR: frozenset({_A.VIEW_OPEN, _A.BUILD_REPORT}),
    Role.DATA_MANAGER: frozenset({
        _A.VIEW_OPEN, _A.VIEW_DELIVERIES, _A.INGEST, _A.CONFIRM_DELIVERY, _A.RETRACT_DELIVERY,
    }),
    Role.ADMIN: frozenset({_A.VIEW_AUDIT, _A.MANAGE_ACCESS, _A.BUILD_DATABASE}),
}  # fmt: skip

# Acts on one patient: a grant limited to some sites allows them only for those sites' patients.
SITE_SCOPED = frozenset({Action.VIEW_PATIENT, Action.ADJUDICATE_DLT, Action.REVIEW_PATIENT})


@dataclass(frozen=True, slots=True)
class Grant:
    """A role in a study (``"*"``: every study), for some sites only (``sites``) or all (None)."""

    study_id: str
    role: Role
    sites: frozenset[str] | None = None

    def covers(self, study_id: str | None) -> bool:
        """Study-wide acts (no study) need a grant on every study."""
        return self.study_id == ALL_STUDIES or (
            study_id is not None and self.study_id.lower() == study_id.lower()
        )


@dataclass(frozen=True, slots=True)
class User:
    """The acting user: a unique id (21 CFR 11.100(a)), the printed name, the grants.

    ``source`` says where the identity comes from: ``oidc`` (the identity provider), ``local``
    (local mode's demo users), ``os`` (an operating-system account) or ``service`` (a
    service token).
    """

    id: str
    name: str
    grants: tuple[Grant, ...]
    source: str

    def roles(self, study_id: str | None) -> frozenset[Role]:
        return frozenset(g.role for g in self.grants if g.covers(study_id))

    def can(self, action: Action, study_id: str | None = None, site: str | None = None) -> bool:
        """Whether a grant allows ``action`` in the study (and, for acts on one patient, at
        the patient's site; ``site`` None then means "at every site")."""
        for g in self.grants:
            if not g.covers(study_id) or action not in PERMISSIONS[g.role]:
                continue
            if action in SITE_SCOPED and g.sites is not None and site not in g.sites:
                continue
            return True
        return False

    def sites(self, action: Action, study_id: str) -> frozenset[str] | None:
        """The sites whose patients ``action`` reaches: None for every site, else a set
        (empty when none)."""
        found: set[str] = set()
        for g in self.grants:
            if g.covers(study_id) and action in PERMISSIONS[g.role]:
                if g.sites is None:
                    return None
                found |= g.sites
        return frozenset(found)

    def studies(self, known: Iterable[str]) -> list[str]:
        """Of the ``known`` studies, those the user has any role in, in their order."""
        return [s for s in known if self.roles(s)]

    def titles(self, study_id: str | None = None) -> str:
        """``safety officer, data manager``: the user's roles in the study, in words."""
        roles = sorted(self.roles(study_id), key=list(Role).index)
        return ", ".join(ROLE_TITLES[r] for r in roles) or "no role"

    def describe(self, study_id: str | None = None) -> str:
        """``Sam Safety (safety officer)``: the name and the roles in the study."""
        return f"{self.name} ({self.titles(study_id)})"


def require(
    user: User | None, action: Action, study_id: str | None = None, *, site: str | None = None,
    subject: str | None = None,
) -> User:
    """Refuse unless the user may do ``action`` (in the study, at the patient's site).

    Returns the user, so a write can say ``actor = require(user, ...).id``.

    Raises
    ------
    AccessDenied
        With one sentence naming the user, the act and the study (and the patient).
    """
    if not isinstance(user, User):
        raise AccessDenied(
            f"{ACTION_PHRASES[action]}: needs a signed-in user, got {user!r}; sign in first"
        )
    if user.can(action, study_id, site):
        return user
    where = f" in {study_id}" if study_id else " across studies"
    sites = user.sites(action, study_id) if study_id and action in SITE_SCOPED else None
    if sites:  # allowed at other sites
        where += (f" for {subject or 'this patient'} of site {site or 'unknown'} "
                  f"(your sites: {', '.join(sorted(sites))})")
    raise AccessDenied(f"{user.describe(study_id)} may not {ACTION_PHRASES[action]}{where}")
