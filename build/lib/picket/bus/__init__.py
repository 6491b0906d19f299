"""Kafka plumbing shared by the gateway and the workers: topics, producer, replies, brokers."""
