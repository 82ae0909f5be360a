"""Pure model and rules of the terminology service (no I/O)."""
