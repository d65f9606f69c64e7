"""Reports: what a run means for the people who read it (tables and summaries, no Prefect here)."""
