"""The voice edge: Twilio Voice webhooks in, TwiML out; each webhook one unit of work of
``ivr.services.calls``."""
