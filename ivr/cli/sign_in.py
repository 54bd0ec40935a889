"""``ivr org oidc``, ``ivr staff grant``/``grants``/``revoke-grant`` and ``ivr audit list``:
staff who sign in to the page with their organisation's account, what each may see, and
who did what."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from ivr.cli.common import console, fail, organisation_named, with_session
from ivr.services.sign_in import ProviderSecrets
from ivr.settings import Settings
from ivr.store import audit
from ivr.store.lines import find_organisation
from ivr.store.sign_in import ROLES, grant, list_grants, revoke_grant, set_provider
from ivr.store.staff import find_schools

audit_app = typer.Typer(help="Who acknowledged, cancelled or marked what.", no_args_is_help=True)

Org = Annotated[str | None, typer.Option(help="Organisation (needed if there are several).")]


def org_oidc(
    org: Annotated[str, typer.Argument(help="The organisation whose staff sign in.")],
    issuer: Annotated[
        str,
        typer.Option(
            envvar="IVR_OIDC_ISSUER",
            help="The provider's issuer; its discovery document is read from "
            "ISSUER/.well-known/openid-configuration.",
        ),
    ],
    client_id: Annotated[str, typer.Option(help="The line's client id at the provider.")],
    client_secret: Annotated[
        str,
        typer.Option(
            envvar="IVR_OIDC_CLIENT_SECRET",
            prompt=True,
            hide_input=True,
            show_default=False,
            help="The client secret (asked for if not given; never shown).",
        ),
    ],
    email_claim: Annotated[
        str, typer.Option(help="The ID token's claim matched against the grants.")
    ] = "email",
) -> None:
    """Staff of ORG sign in to the page with their organisation's account (OpenID
    Connect). The page no longer takes staff tokens for ORG; the API and feeds still do."""
    parts = urlsplit(issuer)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not local):
        raise fail("the issuer must be an https:// address")
    if not client_id.strip() or not client_secret.strip():
        raise fail("give the client id and secret the provider issued for the line")

    def work(session: Session, settings: Settings) -> str:
        organisation = find_organisation(session, org)
        if organisation is None:
            raise fail(f"no organisation {org!r}; add it with `ivr org add`")
        sealed = ProviderSecrets(settings.personal_number_key).seal(
            client_secret.strip(), organisation.id, client_id.strip()
        )
        set_provider(
            session,
            organisation.id,
            issuer.rstrip("/"),
            client_id.strip(),
            sealed,
            email_claim.strip(),
            datetime.now(UTC),
        )
        return settings.public_base_url

    base_url = with_session(work)
    console.print(
        f"Staff of {org} sign in at {base_url}/staff/login with {issuer.rstrip('/')}.\n"
        f"Register this redirect address with the provider: {base_url}/staff/callback",
        soft_wrap=True,
    )


def staff_grant(
    email: Annotated[str, typer.Argument(help="The person's email, as the provider gives it.")],
    school: Annotated[list[str], typer.Option("--school", help="A school; repeat for more.")],
    role: Annotated[
        str, typer.Option(help="office or principal: the whole school; teacher: their groups.")
    ] = "office",
    org: Org = None,
) -> None:
    """Let a person who signs in with their organisation's account see schools. A teacher
    sees the groups whose contact teacher they are (`ivr staff import`)."""
    if role not in ROLES:
        raise fail(f"--role is one of {', '.join(ROLES)}")
    if "@" not in email or len(email) > 254:
        raise fail(f"{email!r} is not an email address")

    def work(session: Session, _settings: Settings) -> tuple[str, int]:
        organisation = organisation_named(session, org)
        schools = find_schools(session, organisation.id, set(school))
        missing = sorted(set(school) - schools.keys())
        if missing:
            raise fail(f"{organisation.name} has no school {', '.join(map(repr, missing))}")
        now = datetime.now(UTC)
        added = sum(
            grant(session, organisation.id, school_id, email, role, now)
            for school_id in schools.values()
        )
        return organisation.name, added

    organisation, added = with_session(work)
    console.print(
        f"{email.strip().lower()}: {role} at {', '.join(sorted(set(school)))} ({organisation}); "
        f"{added} new, {len(set(school)) - added} changed or unchanged."
    )


def staff_revoke_grant(
    email: Annotated[str, typer.Argument(help="The person's email.")],
    school: Annotated[
        list[str] | None, typer.Option("--school", help="Only these schools (default: all).")
    ] = None,
    org: Org = None,
) -> None:
    """Take a person's grants away; their sessions end at once."""

    def work(session: Session, _settings: Settings) -> int:
        organisation = organisation_named(session, org)
        schools = find_schools(session, organisation.id, set(school)) if school else None
        if school and schools is not None and len(schools) != len(set(school)):
            raise fail(f"{organisation.name} does not have all of {', '.join(school)}")
        ids = None if schools is None else list(schools.values())
        return revoke_grant(session, organisation.id, ids, email)

    removed = with_session(work)
    console.print(f"{email.strip().lower()}: {removed} grant(s) removed; signed out everywhere.")


def staff_grants() -> None:
    """Every grant: who sees which school, and as what."""
    table = Table("email", "role", "school", "organisation", "since (UTC)")
    for row in with_session(lambda session, _settings: list_grants(session)):
        table.add_row(
            row.email, row.role, row.school, row.organisation, f"{row.created_at:%Y-%m-%d %H:%M}"
        )
    console.print(table)


@audit_app.command("list")
def audit_list(
    since: Annotated[
        datetime | None, typer.Option(help="From this moment (UTC unless it says otherwise).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Who acknowledged or cancelled a report, or marked a pupil missing or arrived."""
    start = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
    rows = with_session(lambda session, _settings: audit.entries(session, start), write=False)
    if as_json:
        for row in rows:
            typer.echo(
                json.dumps(
                    {
                        "at": row.at.isoformat(),
                        "organisation": row.organisation,
                        "school": row.school,
                        "who": row.who,
                        "action": row.action,
                        "reference": row.reference,
                    },
                    ensure_ascii=False,
                )
            )
        return
    table = Table("at (UTC)", "who", "action", "reference", "school", "organisation")
    for row in rows:
        table.add_row(
            f"{row.at:%Y-%m-%d %H:%M:%S}",
            row.who,
            row.action,
            row.reference,
            row.school or "",
            row.organisation,
        )
    console.print(table)
