"""Hygie demo hospital: the project's templates, a synthetic French hospital driven
through the public interfaces, and the guided tour."""

__all__: list[str] = []
