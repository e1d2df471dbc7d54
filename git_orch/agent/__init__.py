"""Running agents: presets, the envelope, the detached supervisor, run logs and breakers."""
