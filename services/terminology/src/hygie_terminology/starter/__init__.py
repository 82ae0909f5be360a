"""The starter set shipped with Hygie (``omop_starter.json``; every row notes its source)."""
