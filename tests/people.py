"""The demo's users (``data/access.toml``, local mode) and their electronic signatures, for
tests: one user per role, as the dashboard's local sign-in offers them."""

from __future__ import annotations

from pathlib import Path

from safety.access import MEANINGS, Signature, User, load_access_config, sign_with_password

ACCESS = load_access_config(Path(__file__).resolve().parents[1] / "data" / "access.toml")
SIGNATURE_PASSWORD = "demo-signature"  # every demo user's (data/access.toml)

SAFETY_OFFICER = ACCESS.local_user("sam")
INVESTIGATOR = ACCESS.local_user("ines")  # site 01: every demo patient
OTHER_INVESTIGATOR = ACCESS.local_user("iris")  # site 02: none of the demo's patients
DSMB = ACCESS.local_user("dana")
SPONSOR = ACCESS.local_user("stella")
DATA_MANAGER = ACCESS.local_user("dan")
ADMIN = ACCESS.local_user("ada")


def signature(user: User, act: str) -> Signature:
    """A fresh signature of ``user`` for ``act`` (an audit action: "dlt.confirm", ...)."""
    return sign_with_password(user, MEANINGS[act], SIGNATURE_PASSWORD, ACCESS)


_ADJUDICATION_ACTS = {"confirmed": "dlt.confirm", "rejected": "dlt.reject", "added": "dlt.add"}


def adjudicate(db, study_id, usubjid, source, source_seq, decision, reason,
               user: User = SAFETY_OFFICER, **kwargs):  # fmt: skip
    """``safety.monitor.adjudication.adjudicate``, signed by ``user`` with the act's meaning."""
    from safety.monitor import adjudication

    act = _ADJUDICATION_ACTS.get(decision, "dlt.confirm")
    return adjudication.adjudicate(db, study_id, usubjid, source, source_seq, decision, reason,
                                   user, signature=signature(user, act), **kwargs)  # fmt: skip


def acknowledge(db, alert_ids, comment, user: User = SAFETY_OFFICER, **kwargs):
    """``safety.monitor.alerts.acknowledge_alerts``, signed by ``user``."""
    from safety.monitor import alerts

    return alerts.acknowledge_alerts(db, alert_ids, user, comment,
                                     signature=signature(user, "alert.acknowledge"), **kwargs)  # fmt: skip


def confirm(db, hold_id, reason, user: User = DATA_MANAGER):
    """``safety.ingest.confirm_delivery``, signed by ``user`` (a data manager)."""
    from safety.ingest import confirm_delivery

    return confirm_delivery(db, hold_id, user, reason, signature(user, "delivery.confirm"))


def retract(db, batch_id, reason, user: User = DATA_MANAGER):
    """``safety.ingest.retract_batch``, signed by ``user`` (a data manager)."""
    from safety.ingest import retract_batch

    return retract_batch(db, batch_id, user, reason, signature(user, "delivery.retract"))


def signed_in(at, user: User = SAFETY_OFFICER):
    """An AppTest signed in as ``user`` in local mode (the sign-in page's choice)."""
    at.session_state["local_user"] = user.id
    return at


def plain(text: str) -> str:
    """Markdown shown by a page as the reader sees it (``safety.escaping.md`` removed)."""
    import re

    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace("\u2060", "")


def lazy_tabs(at) -> dict[str, list[str]]:
    """The page's keyed tab groups (every keyed ``st.tabs`` here runs only its open tab): key
    -> tab labels, in page order."""
    groups: dict[str, list[str]] = {}

    def walk(node) -> None:
        for child in getattr(node, "children", {}).values():
            if getattr(child, "type", "") == "tab_container":
                key = child.proto.tab_container.id.rsplit("-", 1)[-1]
                if key and key != "None":
                    groups[key] = [t.label for t in child.children.values()]
            walk(child)

    walk(at._tree)
    return groups


def every_tab(at):
    """The page as each of its lazy tabs shows it (``at`` rerun with each open in turn, then
    the first again): a page with lazy tabs draws only the open one."""
    yield at
    for key, labels in lazy_tabs(at).items():
        for label in [*labels[1:], labels[0]]:
            at.session_state[key] = label
            at.run()
            assert not at.exception, (label, at.exception)
            if label != labels[0]:
                yield at


def shown_headers(at) -> list[str]:
    """The column headers an AppTest page's tables show a reader: each column's label from its
    column configuration where it has one, columns hidden by it or by ``column_order`` left
    out."""
    import json

    shown = []
    for table in at.dataframe:
        config = json.loads(table.proto.columns or "{}")
        order = list(table.proto.column_order) or [str(c) for c in table.value.columns]
        for column in order:
            if column in config and config[column] is None:
                continue
            shown.append((config.get(column) or {}).get("label") or column)
    return shown


def raw_headers(headers) -> list[str]:
    """Headers that read as stored column names (``onset_date``, ``cohort``), not as words."""
    import re

    return [h for h in headers if "_" in h or (re.fullmatch(r"[a-z]+", h) and h != "n")]
