"""Partner invoices: self-billing invoices for external payees, numbered without gaps."""
