"""``ivr demo``: a demo organisation, schools, pupils and guardians to call at once."""

from __future__ import annotations

from rich.table import Table
from sqlalchemy.orm import Session

from ivr.cli.common import (
    console,
    with_session,
)
from ivr.cli.roster import import_roster_file
from ivr.domain.countries import country
from ivr.domain.phone import for_display
from ivr.roster.demo import (
    DEMO_EXAMPLE_PUPIL,
    DEMO_LINES,
    DEMO_NORWAY_CALLER,
    DEMO_NORWAY_LINES,
    DEMO_NORWAY_ORGANISATION,
    DEMO_ORGANISATION,
    DemoPupil,
    demo_norwegian_pupils,
    demo_pupils,
    demo_roster_csv,
)
from ivr.settings import Settings, get_settings
from ivr.store.lines import (
    ensure_organisation,
    set_number,
)


def demo() -> None:
    """Load a demo organisation, schools, pupils and guardians, and show how to call; and a
    small Norwegian one (synthetic fødselsnummer), to call in Norway."""
    settings = get_settings()

    def work(session: Session, settings: Settings) -> None:
        organisation = ensure_organisation(
            session, DEMO_ORGANISATION, settings.timezone, settings.language, "SE"
        )
        for number, language in DEMO_LINES.items():
            set_number(session, organisation, number, language)
        norway = country("NO")
        norwegian = ensure_organisation(
            session, DEMO_NORWAY_ORGANISATION, norway.timezone, norway.language, norway.code
        )
        for number, offer in DEMO_NORWAY_LINES.items():
            set_number(session, norwegian, number, None, offer_language=offer)

    with_session(work)
    pupils = demo_pupils()
    import_roster_file(demo_roster_csv(pupils), DEMO_ORGANISATION, dry_run=False, quiet=True)
    norwegian_pupils = demo_norwegian_pupils()
    import_roster_file(
        demo_roster_csv(norwegian_pupils), DEMO_NORWAY_ORGANISATION, dry_run=False, quiet=True
    )
    _print_demo_pupils(f"{DEMO_ORGANISATION}: demo pupils (test personal numbers)", pupils, 2)
    _print_demo_pupils(
        f"{DEMO_NORWAY_ORGANISATION} (Norway): demo pupils (synthetic fødselsnummer)",
        norwegian_pupils,
        0,
    )
    line = next(iter(DEMO_LINES))
    example = pupils[DEMO_EXAMPLE_PUPIL]
    caller = example.guardians[0][1]
    lines = ", ".join(f"{n} ({lang or settings.language})" for n, lang in DEMO_LINES.items())
    norway_line = next(iter(DEMO_NORWAY_LINES))
    console.print(
        f"Lines: {lines}; in Norway {norway_line} (nb, English on key 8)\n"
        "Place a call (whole day today) while the server runs:\n"
        f"  ivr call --to {line} --from {caller} {example.personal_number[2:]} 9\n"
        f"  ivr call --to {norway_line} --from {DEMO_NORWAY_CALLER} "
        f"{norwegian_pupils[0].personal_number} 9\n"
        "or without keys for an interactive call:\n"
        f"  ivr call --to {line} --from {caller}\n"
        "Mark a pupil as not at school (the guardians are reached by SMS and a call):\n"
        f"  ivr missing mark --school {example.school} {example.pupil_id}"
    )


def _print_demo_pupils(title: str, pupils: list[DemoPupil], digits_from: int) -> None:
    table = Table(title=title)
    for column in ("personal number", "pupil id", "pupil", "school", "group", "guardians"):
        table.add_column(column)
    for pupil in pupils:
        table.add_row(
            pupil.personal_number[digits_from:],
            pupil.pupil_id,
            f"{pupil.first_name} {pupil.last_name}",
            pupil.school,
            pupil.group,
            ", ".join(f"{name} {for_display(phone)}" for name, phone, _e, _l in pupil.guardians),
        )
    console.print(table)
