"""The pure core: event schemas, material state. No Kafka, no asyncio, no wall clock."""
