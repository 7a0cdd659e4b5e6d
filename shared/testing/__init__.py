"""Test support: the pytest plugin (real PostgreSQL and RabbitMQ, isolated per run) and tools
such as a TCP proxy that cuts connections for real."""
