"""What the staff pages share: their templates and headers, the page's address, and the
checks every form passes (the cookie, the CSRF token, the origin)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Form, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from ivr.feed.access import csrf_matches, page_access
from ivr.store.staff import StaffAccess
from ivr.web.state import settings_of

PAGE = "/staff"
templates = Environment(
    loader=PackageLoader("ivr.feed", "templates"),
    autoescape=select_autoescape(["html", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
# The page's one script is served from this host; it may fetch from nowhere else.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
}

Csrf = Annotated[str, Form(max_length=100)]
Day = Annotated[str, Form(max_length=20)]


def html(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    body = templates.get_template(name).render(**context)
    return HTMLResponse(body, status_code=status_code, headers=HEADERS)


def page_url(day: date | None = None, anchor: str | None = None, **query: str) -> str:
    values = {"day": day.isoformat()} if day else {}
    values.update(query)
    return f"{PAGE}{'?' + urlencode(values) if values else ''}" + (f"#{anchor}" if anchor else "")


def parse_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    hosts = {request.headers.get("host", ""), urlsplit(settings_of(request).public_base_url).netloc}
    return urlsplit(origin).netloc in hosts


async def form_access(request: Request, csrf: str) -> StaffAccess:
    """Who sent the page's form: the signed-in person or the cookie's token, with this
    page's CSRF token."""
    access = await page_access(request)
    if access is None:
        raise HTTPException(status_code=401, detail="sign in again")
    if not same_origin(request) or not csrf_matches(access, settings_of(request), csrf):
        raise HTTPException(status_code=403, detail="the form is not from this page; reload it")
    return access


async def cookie_access(request: Request) -> StaffAccess | None:
    """Who reads the page: the signed-in person or the cookie's token."""
    return await page_access(request)
