"""Disputes of a statement or one of its lines, assigned to the payee's manager."""
