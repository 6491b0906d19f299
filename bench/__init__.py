"""Benchmarks: commands that measure Picket against a synthetic data set (not tests)."""
