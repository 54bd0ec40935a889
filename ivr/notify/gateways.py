"""The gateways the settings choose: SMS and calls through Twilio, email over SMTP, and where
credentials are missing, a development gateway that only logs."""

from __future__ import annotations

import logging

from ivr.notify.sending import Gateway, LoggingGateway
from ivr.notify.smtp import SmtpEmailGateway
from ivr.notify.twilio_gateways import TwilioCallGateway, TwilioHangupGateway, TwilioSmsGateway
from ivr.settings import Settings
from ivr.twilio.client import TwilioApi

log = logging.getLogger(__name__)


def build_gateways(settings: Settings) -> dict[str, Gateway]:
    """The real gateways where credentials are set, the development gateway elsewhere.
    Must be called inside the event loop that will use them."""
    sms: Gateway = (
        TwilioSmsGateway(settings)
        if settings.sms_configured
        else LoggingGateway("sms", "set IVR_TWILIO_ACCOUNT_SID and IVR_SMS_FROM to send")
    )
    email: Gateway = (
        SmtpEmailGateway(settings)
        if settings.email_configured
        else LoggingGateway("email", "set IVR_SMTP_HOST and IVR_SMTP_FROM to send")
    )
    if settings.calls_configured:
        api = TwilioApi(settings)
        calls: Gateway = TwilioCallGateway(settings, api)
        hangups: Gateway = TwilioHangupGateway(settings, api)
    else:
        why = "set IVR_TWILIO_ACCOUNT_SID and IVR_CALL_FROM (or IVR_SMS_FROM) to call"
        calls, hangups = LoggingGateway("call", why), LoggingGateway("hangup", why)
    return {"sms": sms, "email": email, "call": calls, "hangup": hangups}
