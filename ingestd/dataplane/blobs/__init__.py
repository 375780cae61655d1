"""Blobs: their URLs, the egress policy, request signing, and the download."""
