"""In-app notifications, push devices and the records that make each notification once-only."""
