"""Database tables, release storage and bulk loading."""
