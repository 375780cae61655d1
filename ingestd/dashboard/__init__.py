"""The operator's dashboard: server-rendered pages at ``/`` and ``/ui/`` (docs/dashboard.md)."""
