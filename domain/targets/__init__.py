"""Targets: design, allocate down the hierarchy, validate, publish as quotas, accept."""
