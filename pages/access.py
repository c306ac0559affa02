"""Users and roles: how people sign in, which groups hold which role in which study, what each
role may do, and the audit trail's state and latest entries (without their clinical details)."""

import pandas as pd
import streamlit as st

from safety.access import ACTION_PHRASES, PERMISSIONS, ROLE_TITLES, Action, access_file
from safety.escaping import md
from ui import data, sidebar, widgets

sidebar.selection(required=False)
access, user = sidebar.signed_in()
if not user.can(Action.MANAGE_ACCESS):
    st.info(f"{md(user.describe())} may not {ACTION_PHRASES[Action.MANAGE_ACCESS]}.",
            icon=":material/lock:")  # fmt: skip
    st.stop()

st.title("Users and roles")
mode = ("local mode: fixed demo users, no identity provider" if access.local
        else f"identity provider (OpenID Connect); groups from the {access.groups_claim!r} claim")
st.caption(f"Sign-in: {md(mode)}. Configuration: `{md(access_file())}`; users are managed in "
           "the identity provider, roles by the grants below (edit the file to change them).")  # fmt: skip

st.markdown("#### What each role may do")
matrix = pd.DataFrame(
    {ROLE_TITLES[r]: ["✓" if a in PERMISSIONS[r] else "" for a in Action] for r in PERMISSIONS},
    index=[f"{ACTION_PHRASES[a]} ({a})" for a in Action],
).rename_axis("Action").reset_index()
st.dataframe(matrix, hide_index=True, key="role_matrix")
widgets.download_table(matrix, "role_action_matrix")

st.markdown("#### Grants: groups to roles, per study")
grants = pd.DataFrame(
    [{"group": g.group, "study": g.study_id, "role": ROLE_TITLES[g.role],
      "sites": ", ".join(sorted(g.sites)) if g.sites is not None else "all"}
     for g in access.grants],
    columns=["group", "study", "role", "sites"],
)  # fmt: skip
st.dataframe(grants, hide_index=True, key="grants")

if access.local:
    st.markdown("#### Demo users (local mode)")
    st.dataframe(
        pd.DataFrame([{"id": u.id, "name": u.name, "groups": ", ".join(u.groups)}
                      for u in access.local_users]),
        hide_index=True, key="local_users",
    )  # fmt: skip
st.markdown("#### Command-line accounts")
st.dataframe(
    pd.DataFrame(
        [{"account": a.os_user or a.id,
          "kind": "OS account" if a.os_user else "service token", "groups": ", ".join(a.groups)}
         for a in access.accounts],
        columns=["account", "kind", "groups"],
    ),
    hide_index=True, key="accounts",
)  # fmt: skip

st.markdown("#### Audit trail")
path = sidebar.db_path()
version = data.data_version(path)
trail = data.audit_check(path, version)
(st.success if trail.ok else st.error)(md(trail.describe()), icon=":material/fact_check:")
entries = data.audit_overview(path, user, version)
st.dataframe(entries, hide_index=True, key="audit_entries")
widgets.download_table(entries, "audit_trail_entries")
