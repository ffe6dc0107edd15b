from tests.api.graphql.fixtures import api, settings

__all__ = ["api", "settings"]
