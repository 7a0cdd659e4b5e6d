"""Texts residents read, as plain data (no rules): one catalog that the services showing
residents text (events' timeline and templates, feedback's notices) read through their own
``messages`` module, so no service imports another."""
