"""The run engine in one piece per idea (plain Python, no Prefect, no report code).

- ``ports``: the small interfaces the engine talks to: executor (Ansible), verifier (testinfra), journal (the
  project log) and notifier (stakeholders); ``defaults`` holds the real implementations.
- ``record``: appends an event to the journal, folds it into the run's state (``itpm.run_state``) and lets the
  reactions answer it: ``costs`` books time and per-host costs, ``risk_watch`` raises materialized risks. The
  notifier observes what was appended; nothing slow sits between two batches.
- ``scope``: which hosts a step works on, pinned at the run's first start; who was left out.
- ``approvals``: who may answer a gate; ``signed_answers`` checks a signed one.
- ``emergency``: a run that skips its gates, saying why; ``review``: its post-implementation review.
- ``batch_work``: apply, verify, judge and roll back one batch; ``halt_notes`` words a halt for people.

``itpm.project_run.ProjectRun`` puts these together for the flow and the CLI.
"""
