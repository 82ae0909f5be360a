"""The ``hygie`` command line."""
