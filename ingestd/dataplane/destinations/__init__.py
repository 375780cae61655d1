"""Destinations: where a load's rows, quarantine and ledger entry are written."""
