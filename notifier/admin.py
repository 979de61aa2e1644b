"""Admin of subscribers, channels and deliveries."""
