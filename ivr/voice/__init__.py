"""The provider edge: Twilio webhooks in, TwiML out."""
