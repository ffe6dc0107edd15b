from domain.kit.errors import Conflict, Forbidden, InvalidInput, NotFound, PeriodError


class AllocationError(InvalidInput):
    """Children that do not add up, a person outside the subtree, a negative value."""

    code = "invalid_allocation"


__all__ = ["AllocationError", "Conflict", "Forbidden", "InvalidInput", "NotFound", "PeriodError"]
