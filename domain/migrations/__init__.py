"""Schema migrations (tortoise makemigrations)."""
