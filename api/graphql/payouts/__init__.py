"""Payouts over GraphQL: payout details (more with batches)."""
