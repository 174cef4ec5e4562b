"""Faust agents: thin loops that decode, call the pure core, store and send."""
