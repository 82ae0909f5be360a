"""Use cases of the terminology service."""
