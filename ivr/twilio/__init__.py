"""The Twilio edge every part that speaks to Twilio shares: the webhook signature, TwiML,
and the REST client (SMS now, outbound calls next)."""
