"""Routes grouped by API area; each module exposes `routes`."""
