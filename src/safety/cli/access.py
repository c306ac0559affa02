"""``access whoami`` (who the command line acts as, and its roles per study) and ``access
hash-password`` (a signature password for a ``[[local_user]]`` of the access configuration)."""

from __future__ import annotations

import click

from safety.access import ROLE_TITLES, access_file, load_access_config
from safety.access.signatures import hash_signature_password
from safety.cli.base import acting_user


@click.group("access")
def access() -> None:
    """Sign-in and roles."""


@access.command("whoami")
def whoami() -> None:
    """The user this command line acts as and its roles, per study."""
    user = acting_user()
    config = load_access_config()
    click.echo(f"{user.id} ({user.source}: {user.name}), access configuration {access_file()} "
               f"({config.mode} sign-in)")  # fmt: skip
    if not user.grants:
        click.echo("  no role: add the account to [[account]] in the access configuration")
    for g in user.grants:
        sites = f" at sites {', '.join(sorted(g.sites))}" if g.sites is not None else ""
        study = "every study" if g.study_id == "*" else g.study_id
        click.echo(f"  {ROLE_TITLES[g.role]} in {study}{sites}")


@access.command("hash-password")
@click.password_option("--password", prompt="Signature password",
                       help="Prompted for (twice) when not given.")  # fmt: skip
def hash_password(password: str) -> None:
    """Print the scrypt hash of a signature password, for signature_password = "..."."""
    click.echo(hash_signature_password(password))
