"""Discover: the organization `events` endpoint's table queries over stored events."""
