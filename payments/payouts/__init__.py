"""Payout details per payee: how each person is paid (method and account), validated on
entry, encrypted at rest, shown masked, audited."""
