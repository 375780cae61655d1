"""The loaders under test; each exposes ``load(job) -> Outcome`` and runs in a child process."""
