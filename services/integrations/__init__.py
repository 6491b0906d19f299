"""Integrations: service hooks, Sentry apps installed in an organization and the external issues
they link, as an event-sourced context; what each hook or installation is sent."""
