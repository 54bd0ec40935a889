"""``ivr call``: the call simulator, on the command line."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer

from ivr.cli.common import (
    console,
    fail,
)
from ivr.i18n import available_languages, load_catalogue
from ivr.roster.demo import (
    DEMO_CALLER,
    DEMO_LINES,
)
from ivr.settings import Settings, get_settings


def call(
    keys: Annotated[
        list[str] | None,
        typer.Argument(help="Keys for each prompt in turn; '' is silence. None: interactive."),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="The line's base URL. Default: IVR_PUBLIC_BASE_URL.")
    ] = None,
    from_: Annotated[str, typer.Option("--from", help="The caller's number.")] = DEMO_CALLER,
    to: Annotated[str, typer.Option(help="The number called.")] = next(iter(DEMO_LINES)),
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the outcome and call time.")
    ] = False,
) -> None:
    """Place a simulated call. Exit status 0 if an absence was recorded.

    Ends with an estimate of how long the call took the caller: speech at each language's
    speaking rate, half a second a key, and the gathers' waits (see ivr/call_time.py)."""
    from ivr.cli.simulator import CallFailed, CallSimulator, keys_from_list

    settings = get_settings()
    base_url = url or settings.public_base_url
    simulator = CallSimulator(
        base_url,
        settings.twilio_auth_token.get_secret_value(),
        caller=from_,
        called=to,
        account_sid=settings.twilio_account_sid,
        show=(lambda _line: None) if quiet else _show_line,
        speech_rates=_speech_rates(settings),
    )
    source = keys_from_list(list(keys)) if keys else _ask_keys
    try:
        result = simulator.place(source)
    except CallFailed as error:
        raise fail(str(error), code=2) from None
    except httpx.HTTPError as error:
        raise fail(f"could not reach {base_url}: {error}", code=2) from None
    call_time = f"Call time (estimate): {result.call_time}."
    if result.recorded:
        console.print(f"Recorded: {', '.join(result.references)} ({result.ended_by}). {call_time}")
        return
    console.print(f"No absence recorded ({result.ended_by}). {call_time}")
    raise typer.Exit(1)


def _show_line(line: str) -> None:
    console.print(line, markup=False, highlight=False)


def _speech_rates(settings: Settings) -> dict[str, float]:
    """Each catalogue's speaking rate (``meta.characters_per_second``), by language."""
    rates: dict[str, float] = {}
    for language in available_languages(settings.catalogue_dir):
        texts = load_catalogue(language, settings.catalogue_dir).texts
        rate = texts.get("meta.characters_per_second")
        if rate:
            rates[texts["meta.say_language"].split("-")[0].lower()] = float(rate)
    return rates


def _ask_keys() -> str | None:
    try:
        answer = console.input("[bold]keys[/bold] (Enter: silence, q: hang up) > ")
    except EOFError:
        return None
    return None if answer.strip().lower() == "q" else answer.strip()
