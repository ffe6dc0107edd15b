"""earnings."""
