"""Shared wiring for every entpage domain: settings, database, Redis, errors, logging."""
