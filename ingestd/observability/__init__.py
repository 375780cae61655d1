"""What an operator watches: Prometheus metrics and structured logs (docs/operations.md)."""
