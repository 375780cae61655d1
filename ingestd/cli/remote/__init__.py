"""The CLI against a running server: discovery (``server.json``) and the native API client."""
