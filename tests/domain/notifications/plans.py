"""Plan documents for the notification tests."""

from __future__ import annotations

# quota 100000: 85000 booked is 85% (thresholds 50 and 80), tier 2 of commission;
# commission 50000 x 2% + 35000 x 5% = 2750, spiff 1% = 850: 3600 payable
AE_PLAN = """\
id: ae
name: Account Executive
currency: EUR
period: month
measures:
  - id: bookings
    filter: "type == 'deal' and state == 'won'"
components:
  - id: commission
    type: tiered
    measure: bookings
    basis: attainment
    method: marginal
    tiers:
      - {from: 0, rate: 0.02}
      - {from: 0.5, rate: 0.05}
      - {from: 1.0, rate: 0.08}
  - id: spiff
    type: rate
    measure: bookings
    rate: 0.01
"""
