"""Alembic migrations of the store's schema (run by :func:`crossmargin.store.migrate.upgrade`)."""
