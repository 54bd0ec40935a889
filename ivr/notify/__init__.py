"""Sending what the outbox holds: the dispatcher, its gateways (Twilio SMS, SMTP email, a
development gateway that only logs) and the provider's delivery reports. What a message
says and to whom is decided where it is queued (``ivr.services``)."""
