"""Messaging: envelope, brokers (RabbitMQ and in-memory), outbox relay, inbox, consumers."""
