"""The PostgreSQL destination: schema, COPY, the load's transaction, its hosts."""
