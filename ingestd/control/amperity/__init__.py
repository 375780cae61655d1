"""Rules only the Amperity dialect has: streams, their batches, OAuth clients."""
