"""One file per mutation."""
