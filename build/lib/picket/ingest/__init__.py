"""Ingestion: what Sentry SDKs send (envelopes, store), parsed, normalized, grouped and counted."""
