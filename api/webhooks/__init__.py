"""CRM webhooks: verify, store in the inbox (committed), enqueue the ids, answer 202."""

from api.webhooks.routes import webhook_routes

__all__ = ["webhook_routes"]
