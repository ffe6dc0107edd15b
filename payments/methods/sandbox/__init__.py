"""Local stand-ins for the payout providers, on 127.0.0.1: Stripe Connect
(``stripe_connect``) and a Tremendous-style gift card API (``giftcards``).

They check requests the way the providers document them, keep what was asked in memory and
can be told to fail: the tests run the real adapters against them, and `podium dev` serves
them as the demo's sandbox when no real provider is configured (development only; no money
moves). Nothing in production imports them."""
