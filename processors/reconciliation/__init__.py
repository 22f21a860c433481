"""Reconciliation: the position hbot's fills imply against the exchange's, for live instances."""
