"""Draws: a guaranteed amount per period, recoverable or not, carried on a ledger."""
