from domain.kit.errors import Forbidden, NotFound

__all__ = ["Forbidden", "NotFound"]
