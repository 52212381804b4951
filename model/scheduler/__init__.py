"""The scheduler: its plugins, profiles, queue and scheduling cycle."""
