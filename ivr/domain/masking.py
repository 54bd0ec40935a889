"""Addresses as staff see them: enough to recognise, not enough to copy."""

from __future__ import annotations

import re

import phonenumbers

_DIGIT = re.compile(r"\d")


def masked_phone(number: str) -> str:
    """``+46701740605`` as ``+46 70-*** ** 05``: the country, the first two digits of the
    national number and the last two."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return "***"
    shown = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    positions = [match.start() for match in _DIGIT.finditer(shown)]
    keep_first = len(str(parsed.country_code)) + 2
    hidden = set(positions[keep_first:-2])
    return "".join("*" if index in hidden else char for index, char in enumerate(shown))


def masked_email(address: str) -> str:
    """``anna@example.com`` as ``a***@example.com``."""
    local, at, domain = address.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def masked_address(channel: str, address: str) -> str:
    return masked_phone(address) if channel == "sms" else masked_email(address)
