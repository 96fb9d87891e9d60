"""Delivery to people and agencies: the alert router, agencies' subscriptions, signed webhooks (policy, HTTP, senders), the live stream's fan-out, the published picture's conflation."""
