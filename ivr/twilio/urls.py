"""The line's webhook paths that Twilio is told of by the line itself (in a call it places,
or a message it sends), so the gateways that tell it and the routes that answer agree."""

SMS_STATUS_PATH = "/twilio/sms/status"
OUTREACH_CALL_PATH = "/twilio/voice/outreach"
OUTREACH_STATUS_PATH = "/twilio/voice/outreach/status"
OUTREACH_PARAMETER = "o"
