"""Accruals and the journal for finance: earned, approved, paid, outstanding."""
