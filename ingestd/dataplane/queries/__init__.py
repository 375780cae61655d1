"""Read-only queries over a project's own tables (KQL compiled to SQL)."""
