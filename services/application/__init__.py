"""The application layer of the event-sourced contexts: no Kafka, no store in it (see `aggregates`)."""
