"""Hygie audit service (walking skeleton: records the events it sees)."""
