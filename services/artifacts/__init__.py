"""Artifacts: release files, artifact bundles (source maps) and debug information files, kept as
chunked blobs (`picket.blobs`) and indexed by the artifacts context."""
