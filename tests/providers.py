"""The local SMTP server and Twilio Messages API, started for a test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ivr.devtools.providers import FakeTwilio, HttpServer, SmtpServer, SmtpSink

ACCOUNT_SID = "AC" + "1" * 32
LINE_SENDER = "+46701740699"
MAIL_SENDER = "franvaro@example.org"


@dataclass
class Providers:
    twilio: FakeTwilio
    twilio_server: HttpServer
    smtp: SmtpServer

    @property
    def sink(self) -> SmtpSink:
        return self.smtp.sink

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Settings that point the line's gateways at these providers."""
        return {
            "twilio_account_sid": ACCOUNT_SID,
            "sms_from": LINE_SENDER,
            "twilio_api_base_url": self.twilio_server.url,
            "smtp_host": "127.0.0.1",
            "smtp_port": self.smtp.port,
            "smtp_from": MAIL_SENDER,
            "smtp_starttls": False,
            "outbox_poll_seconds": 0.05,
            **extra,
        }
