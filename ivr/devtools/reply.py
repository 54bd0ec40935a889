"""An SMS that comes in, from the command line: what Twilio posts to the line when a guardian
answers one of its messages, signed as Twilio signs it.

    python -m ivr.devtools.reply --from +46701740605 --body 1

prints the line's reply (each ``<Message>`` of its TwiML), or ``(no reply)``.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence
from xml.etree.ElementTree import Element, ParseError

import httpx
from defusedxml.ElementTree import fromstring

from ivr.devtools.signing import signed_headers

SMS_INCOMING_PATH = "/twilio/sms/incoming"
LINE_NUMBER = "+46701740699"
DEVELOPMENT_ACCOUNT_SID = "AC" + "0" * 32


class ReplyFailed(Exception):
    """The line could not be reached or did not take the message."""


def incoming_sms(sender: str, body: str, to: str, account_sid: str) -> dict[str, str]:
    """The parameters of Twilio's "a message comes in" webhook."""
    sid = "SM" + secrets.token_hex(16)
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": account_sid,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "ApiVersion": "2010-04-01",
    }


def send_sms(
    client: httpx.Client, base_url: str, params: dict[str, str], auth_token: str
) -> list[str]:
    """Post the message to the line; the texts of its reply."""
    url = base_url.rstrip("/") + SMS_INCOMING_PATH
    try:
        response = client.post(url, data=params, headers=signed_headers(url, params, auth_token))
    except httpx.HTTPError as error:
        raise ReplyFailed(f"cannot reach the line at {url}: {error}") from None
    if not response.is_success:
        raise ReplyFailed(f"the line answered {response.status_code}: {response.text[:200]}")
    if not response.content.strip():
        return []
    try:
        root = fromstring(response.content)
    except (ParseError, ValueError) as error:
        raise ReplyFailed(f"the line's answer is not TwiML: {error}") from None
    return [_text(message) for message in root.iter("Message")]


def _text(message: Element) -> str:
    """A ``<Message>``'s text: its own, or its ``<Body>``'s (beside a ``<Media>``)."""
    body = message.find("Body")
    return "".join((message if body is None else body).itertext()).strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="sender", required=True, help="the guardian's number")
    parser.add_argument("--body", required=True, help="what the message says")
    parser.add_argument("--to", default=LINE_NUMBER, help="the line's number (IVR_SMS_FROM)")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the line")
    parser.add_argument("--auth-token", default="development-auth-token")
    parser.add_argument("--account-sid", default=DEVELOPMENT_ACCOUNT_SID)
    arguments = parser.parse_args(argv)
    params = incoming_sms(arguments.sender, arguments.body, arguments.to, arguments.account_sid)
    try:
        with httpx.Client(timeout=15) as client:
            replies = send_sms(client, arguments.url, params, arguments.auth_token)
    except ReplyFailed as error:
        print(error, file=sys.stderr)
        return 1
    for reply in replies or ["(no reply)"]:
        print(reply, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
