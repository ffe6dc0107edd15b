"""Payout batches: approved statements paid exactly once (create, four-eyes approve,
execute in a worker, reconcile)."""
