"""Rules only the Statsig Console dialect has: dataset sources and data checks."""
