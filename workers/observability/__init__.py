"""Metrics and traces the engine exposes to monitoring: labels are route templates, stages, channels and outcomes,
never a path value, an id, a name, a phone or an email."""
