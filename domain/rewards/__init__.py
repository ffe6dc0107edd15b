"""Money awarded outside a plan (contest prizes): rows that statements read."""
