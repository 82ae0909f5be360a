"""Hygie platform: what every service stands on."""

__all__: list[str] = []
