"""``ivr org``, ``ivr number`` and ``ivr school``: organisations, the numbers guardians
call, and schools' settings."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from ivr.cli.common import (
    console,
    fail,
    organisation_of_school,
    with_session,
)
from ivr.domain.countries import COUNTRIES, UnknownCountry, country
from ivr.domain.phone import InvalidPhoneNumber, normalise
from ivr.i18n import available_languages
from ivr.roster.csv_file import is_email
from ivr.settings import Settings, get_settings
from ivr.store.lines import (
    ensure_organisation,
    find_organisation,
    list_numbers,
    list_organisations,
    set_number,
)
from ivr.store.models import Organisation
from ivr.store.schools import find_school, set_absence_retention

org_app = typer.Typer(help="Organisations (municipalities, school owners).", no_args_is_help=True)
number_app = typer.Typer(help="The phone numbers guardians call.", no_args_is_help=True)


@org_app.command("add")
def org_add(
    name: str,
    timezone: Annotated[
        str | None, typer.Option(help="Default: the country's, or IVR_TIMEZONE.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Default: the country's, or IVR_LANGUAGE.")
    ] = None,
    country_code: Annotated[
        str | None,
        typer.Option(
            "--country",
            help=f"{' or '.join(COUNTRIES)}: how pupils are identified, dates keyed and "
            "which days are holidays. Default: IVR_COUNTRY.",
        ),
    ] = None,
) -> None:
    """Add an organisation (or leave an existing one as it is).

    An organisation in another country than IVR_COUNTRY starts with that country's time
    zone and language (Norway: Europe/Oslo, nb) unless told otherwise."""
    settings = get_settings()
    try:
        rules = country(country_code or settings.country)
    except UnknownCountry as error:
        raise fail(str(error)) from None
    at_home = rules.code == settings.country
    zone = timezone or (settings.timezone if at_home else rules.timezone)
    speaks = language or (settings.language if at_home else rules.language)
    if speaks not in available_languages(settings.catalogue_dir):
        raise fail(f"no catalogue for language {speaks!r}")

    def work(session: Session, _settings: Settings) -> Organisation:
        ZoneInfo(zone)
        return ensure_organisation(session, name, zone, speaks, rules.code)

    organisation = with_session(work)
    console.print(
        f"Organisation {organisation.name!r} ({organisation.country}, {organisation.timezone}, "
        f"{organisation.language})."
    )


@org_app.command("list")
def org_list() -> None:
    """List organisations."""

    def work(session: Session, _settings: Settings) -> list[Organisation]:
        return list_organisations(session)

    table = Table("name", "country", "time zone", "language")
    for organisation in with_session(work):
        table.add_row(
            organisation.name, organisation.country, organisation.timezone, organisation.language
        )
    console.print(table)


@number_app.command("add")
def number_add(
    number: str,
    org: Annotated[str, typer.Option(help="The organisation that answers this number.")],
    language: Annotated[
        str | None, typer.Option(help="The language calls to this number start in.")
    ] = None,
    offer_language: Annotated[
        str | None,
        typer.Option(
            help="A second language the first prompt offers on key 8 (costs every caller "
            "about two seconds, so off unless set)."
        ),
    ] = None,
) -> None:
    """Tie a phone number guardians call to an organisation (and a language).

    A caller who is a registered guardian with a preferred language hears that language
    instead, whatever the number's."""
    try:
        e164 = normalise(number)
    except InvalidPhoneNumber as error:
        raise fail(f"{number!r}: {error}") from None
    languages = available_languages(get_settings().catalogue_dir)
    for chosen in (language, offer_language):
        if chosen and chosen not in languages:
            raise fail(f"no catalogue for language {chosen!r}")

    def work(session: Session, _settings: Settings) -> None:
        organisation = find_organisation(session, org)
        if organisation is None:
            raise fail(f"no organisation {org!r}; add it with `ivr org add`")
        set_number(session, organisation, e164, language, offer_language)

    with_session(work)
    console.print(
        f"{e164} now answers for {org}"
        + (f" in {language}" if language else "")
        + (f", offering {offer_language} on key 8" if offer_language else "")
        + "."
    )


@number_app.command("list")
def number_list() -> None:
    """List the numbers guardians call."""

    def work(session: Session, _settings: Settings) -> list[tuple[str, str, str, str]]:
        return [
            (
                number.number,
                organisation.name,
                number.language or organisation.language,
                number.offer_language or "",
            )
            for number, organisation in list_numbers(session)
        ]

    table = Table("number", "organisation", "language", "offers")
    for row in with_session(work):
        table.add_row(*row)
    console.print(table)


school_app = typer.Typer(help="Schools.", no_args_is_help=True)


@school_app.command("retention")
def school_retention(
    school: str,
    days: Annotated[
        int | None, typer.Argument(min=1, help="Days to keep an absence after it ends.")
    ] = None,
    org: Annotated[
        str | None, typer.Option(help="Organisation (needed if there are several).")
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Back to IVR_ABSENCE_RETENTION_DAYS.")
    ] = False,
) -> None:
    """How long a school keeps reported absences after they end (shown when no DAYS)."""

    def work(session: Session, settings: Settings) -> int | None:
        organisation = organisation_of_school(session, org, school)
        found = find_school(session, organisation.id, school)
        if found is None:
            raise fail(f"no school {school!r} in {organisation.name}")
        if default or days is not None:
            set_absence_retention(session, found, None if default else days)
        return found.absence_retention_days

    kept = with_session(work)
    default_days = get_settings().absence_retention_days
    console.print(
        f"{school} keeps absences {kept if kept is not None else default_days} days after they end"
        + ("" if kept is not None else " (the line's default, IVR_ABSENCE_RETENTION_DAYS)")
        + "."
    )


@school_app.command("office")
def school_office(
    school: str,
    email: Annotated[
        str | None, typer.Option(help="The office's address: alerts about missing pupils.")
    ] = None,
    phone: Annotated[str | None, typer.Option(help="The office's phone: alerts by SMS.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove both.")] = False,
    org: Annotated[
        str | None, typer.Option(help="Organisation (needed if there are several).")
    ] = None,
) -> None:
    """Where a school's office gets the alert when nobody knows where a pupil is (shown
    when neither is given). The group's contact teachers get it too (`ivr staff import`)."""
    if email is not None and not is_email(email):
        raise fail(f"{email!r} is not an email address")

    def work(session: Session, _settings: Settings) -> tuple[str | None, str | None]:
        organisation = organisation_of_school(session, org, school)
        found = find_school(session, organisation.id, school)
        if found is None:
            raise fail(f"no school {school!r} in {organisation.name}")
        if clear:
            found.office_email = found.office_phone = None
        if email is not None:
            found.office_email = email
        if phone is not None:
            try:
                found.office_phone = normalise(phone, organisation.country)
            except InvalidPhoneNumber as problem:
                raise fail(f"{phone!r}: {problem}") from None
        return found.office_email, found.office_phone

    office_email, office_phone = with_session(work)
    console.print(
        f"{school}'s office: email {office_email or '(none)'}, phone {office_phone or '(none)'}."
    )
    if not (office_email or office_phone):
        console.print("Alerts go to the groups' contact teachers only.")
