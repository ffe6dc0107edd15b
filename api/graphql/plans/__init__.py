"""Plans: the rep's assignments, accepting one, publishing a version."""
