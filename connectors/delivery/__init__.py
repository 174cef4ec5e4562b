"""Delivery connectors: notifications sent to people by email, SMS, webhooks and chat robots.

``signing`` computes each platform's signature, ``endpoints`` reads the
directory that maps endpoint names to URLs and secrets, ``channels`` builds
and posts each platform's message, and ``sender`` runs the attempts: rate
limits, timeouts, retries with backoff, and one ``Delivery`` record per
attempt. Like every connector they take plain arguments, never the app's
settings; ``stockloop deliver`` (``streams.cli.deliver``) wires them to Kafka.
"""
