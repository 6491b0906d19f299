"""Wire contracts of Picket: commands, domain events, replies and the topic registry.

Everything that crosses a process boundary is a msgspec Struct defined here. Domain events are a
public interface: they evolve only by adding fields with defaults.
"""
