"""The identity service — accounts, verification, staff, partner apps, population registry."""
