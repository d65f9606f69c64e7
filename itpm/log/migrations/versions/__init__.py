"""The project log's revisions, oldest first; alembic finds them by path, in the order their headers chain."""
