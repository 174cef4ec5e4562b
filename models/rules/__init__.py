"""Alert rules: declarative YAML conditions over a material's facts, parsed once, evaluated often.

``expression`` is the safe condition language, ``spec`` the validated rule
file (and the built-in pack in ``builtin.yaml``), ``evaluate`` the pure
functions that turn facts into rule outcomes for the alert lifecycle.
"""
