"""Delivery to agencies and officers: the alert router, agencies' subscriptions, signed webhooks
(address policy, HTTP, senders), the live stream's fan-out, the published picture's conflation."""
