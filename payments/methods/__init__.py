"""Payout methods, one adapter module each: ``sepa`` (pain.001 files), ``nacha`` (ACH files),
``payroll`` (ADP paydata CSV), ``stripe_connect`` (transfers and webhooks), ``giftcards``.

Every adapter takes `PayoutInstruction`s (models.py) and answers a typed `Outcome` per
instruction: a batch calls them without knowing any provider."""
