"""Models of the automation API (tokens). Registered with the statuspage app."""
