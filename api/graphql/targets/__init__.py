"""Targets: a reps own, a managers allocation to do, propose, validate, publish."""
