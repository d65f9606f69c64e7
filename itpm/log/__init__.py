"""The project log: a durable, append-only record of every project run, and the host locks beside it."""
