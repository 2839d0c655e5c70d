"""Benchmarks of the runbook against labs (`make bench`)."""
