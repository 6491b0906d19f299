"""Aggregate queries: stats_v2, legacy stats and release-health sessions."""
