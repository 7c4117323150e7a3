"""Auditing: derivation reports, their diffs, SBOMs and container parity."""
