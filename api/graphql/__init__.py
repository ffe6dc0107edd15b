"""The GraphQL API (strawberry): one sub-package per area, assembled in schema.py."""
