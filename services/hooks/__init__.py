"""Webhook deliveries: signing (`signing`), which URLs may be called (`urls`), when to try again
(`backoff`), and the consumer that sends them (`deliverer`). Nothing is imported here, so that the
gateway can use `picket.hooks.urls` without the worker side."""
