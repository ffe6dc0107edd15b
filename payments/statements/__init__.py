"""Statements: what a payee is paid for a period, versioned and approved."""
