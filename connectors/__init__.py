"""Edges to other systems: CDC decoding, the local broker, topic admin, file import."""
