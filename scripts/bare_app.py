"""The ceiling for ``scripts/bench``: FastAPI on uvicorn doing no more than any webhook must.

Every webhook path parses its form (``await request.form()``) and answers a constant TwiML
document with the line's content type; the status callback answers 204. Served exactly as
``ivr serve --workers 1`` serves the line (uvicorn's default loop and HTTP parser, log level
``info`` without the access log, no proxy headers)::

    .venv/bin/python scripts/bare_app.py --port 8001
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

TWIML_CONTENT_TYPE = "text/xml; charset=utf-8"
TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    '<Gather action="/twilio/voice/step" actionOnEmptyResult="false" finishOnKey="" '
    'input="dtmf" method="POST" numDigits="10" timeout="5">'
    '<Say language="sv-SE" voice="Polly.Astrid">Välkommen till frånvaroanmälan. '
    "Slå elevens personnummer med tio siffror.</Say></Gather>"
    '<Redirect method="POST">/twilio/voice/step</Redirect></Response>'
)

app = FastAPI(title="Bare webhook ceiling")


@app.post("/twilio/voice")
@app.post("/twilio/voice/step")
async def webhook(request: Request) -> Response:
    await request.form()
    return Response(TWIML, media_type=TWIML_CONTENT_TYPE)


@app.post("/twilio/voice/status", status_code=204)
async def status(request: Request) -> Response:
    await request.form()
    return Response(status_code=204)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
