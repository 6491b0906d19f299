"""Size limits for ingestion, with the defaults of Sentry's Relay (`limits.*` in its config).

Every size is in bytes and applies to *decompressed* data, except `max_compressed_body`,
which bounds the raw request body as it arrives on the wire. Counts are plain numbers.
`Limits` is immutable; make a variant with `dataclasses.replace(DEFAULT_LIMITS, ...)`.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class Limits:
    """Relay's default size limits (current Relay defaults; older releases had 100 MiB for
    envelopes and attachments)."""

    # Whole requests.
    max_envelope_size: int = 200 * MIB  # a whole envelope, after decompression
    max_api_payload_size: int = 20 * MIB  # a general web API request body
    max_api_file_upload_size: int = 40 * MIB  # a file upload via the web API
    max_api_chunk_upload_size: int = 100 * MIB  # a chunk upload (debug files, source maps)
    # Not a Relay setting: the raw (possibly compressed) request body a caller should
    # read before decompressing. Picket's choice: the same as the envelope limit.
    max_compressed_body: int = 200 * MIB

    # Event-like items (event, transaction, security, feedback, replay_event, form_data).
    max_event_size: int = 1 * MIB

    # Attachments (attachment, unreal_report, user_report).
    max_attachment_size: int = 200 * MIB  # one attachment
    max_attachments_size: int = 200 * MIB  # all attachments of one envelope together
    max_attachment_count: int = 30

    # Sessions (session, sessions).
    max_sessions_size: int = 10 * MIB
    max_session_count: int = 100

    # Client reports.
    max_client_reports_size: int = 100 * KIB
    max_client_reports_count: int = 100

    # Cron monitor check-ins.
    max_check_in_size: int = 100 * KIB

    # Profiles (profile, profile_chunk).
    max_profile_size: int = 50 * MIB

    # Container items (log, span, trace_metric) and their single entries.
    max_container_size: int = 12 * MIB
    max_log_size: int = 2 * MIB
    max_span_size: int = 10 * MIB
    max_trace_metric_size: int = 1 * MIB
    max_standalone_span_count: int = 25

    # Metrics.
    max_statsd_size: int = 1 * MIB
    max_metric_buckets_size: int = 1 * MIB

    # Session replays.
    max_replay_compressed_size: int = 10 * MIB
    max_replay_uncompressed_size: int = 100 * MIB
    max_replay_message_size: int = 15 * MIB


DEFAULT_LIMITS = Limits()
