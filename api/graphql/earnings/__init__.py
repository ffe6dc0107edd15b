"""Earnings: what a rep earned per period, the lines behind it, history and what-if."""
