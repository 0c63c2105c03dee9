"""The asr-s2d domain: settings, IDs, events, planners, services and state. No trigger code lives here."""
