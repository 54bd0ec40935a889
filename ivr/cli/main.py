"""``ivr``: install, import rosters, serve, and place simulated calls. This module only
wires the command groups; each lives in a module of its own."""

from __future__ import annotations

import typer

from ivr.cli import (
    absences,
    calls,
    database,
    demo,
    missing,
    organisations,
    outbox,
    roster,
    security,
    serving,
    sign_in,
    staff,
    webhooks,
)

app = typer.Typer(help="Telephone absence line for schools.", no_args_is_help=True)
app.command()(serving.serve)
app.command()(serving.worker)
app.command()(demo.demo)
app.command()(calls.call)
app.add_typer(database.app, name="db")
organisations.org_app.command("oidc")(sign_in.org_oidc)
app.add_typer(organisations.org_app, name="org")
app.add_typer(organisations.number_app, name="number")
app.add_typer(organisations.school_app, name="school")
app.add_typer(roster.app, name="roster")
app.add_typer(absences.app, name="absences")
app.add_typer(missing.app, name="missing")
app.add_typer(outbox.app, name="outbox")
staff.staff_app.command("grant")(sign_in.staff_grant)
staff.staff_app.command("grants")(sign_in.staff_grants)
staff.staff_app.command("revoke-grant")(sign_in.staff_revoke_grant)
app.add_typer(staff.staff_app, name="staff")
app.add_typer(sign_in.audit_app, name="audit")
app.add_typer(security.app, name="security")
app.add_typer(webhooks.app, name="webhook")
