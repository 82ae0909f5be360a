"""Hygie patient index: a master patient index with French identity-vigilance rules."""
