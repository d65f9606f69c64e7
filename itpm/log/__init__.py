"""The project log: a durable, append-only record of every project run, and the host locks beside it.

Each run's events form a hash chain (chain.py), checked by chain_audit.py: an edit afterwards shows.
"""
