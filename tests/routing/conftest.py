"""Routing's flows that need the case file run on the events and routing apps over RabbitMQ
(``loop``), as the events tests do."""

from tests.events.conftest import bus, clock, loop  # noqa: F401
