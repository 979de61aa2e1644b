"""Subscribers, channels and the outbox of deliveries."""
