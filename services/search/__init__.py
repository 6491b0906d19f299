"""Sentry's search syntax: parsed into a tree (`syntax`), values read as numbers, durations and
dates (`values`). Binding a tree to a dataset's fields is the reader's part."""
