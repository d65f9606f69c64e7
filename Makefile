# The two commands of the README:
#   make run    set up (apt packages, .venv), then the demo: a lab fleet, the Prefect UI, a project through its deployment
#   make test   set up, lint (ruff, mypy --strict), then run every test (unit tests and lab tests on real hosts)
# Everything needs root (namespaces, bridges, mounts), as on CI.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
ITPM := $(VENV)/bin/itpm
HOSTS ?= 12
# postgresql: the tests run the project log on a private PostgreSQL cluster too (tests/postgres.py);
# chromium: the HTML report and the Prefect UI are checked in headless Chromium (tests/browser.py).
APT_PACKAGES := debootstrap iproute2 util-linux openssh-client iptables python3-venv chromium postgresql

.PHONY: setup apt-packages run test lint stop clean

setup: apt-packages $(VENV)/.installed

# Checked on every run (dpkg answers in milliseconds), so a package added here reaches machines set up before.
apt-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

# The main job (itpm demo, flows/demo.py): a lab of $(HOSTS) hosts, the local Prefect server and UI, the deployments
# and a worker, then the network project through its deployment: canary, an approval the demo grants, batches,
# re-audit, report. It ends printing where to look.
run: setup
	$(ITPM) demo --hosts $(HOSTS)

# Two pytest-xdist workers, a test module each at a time (module fixtures bring up labs of their own): the lab
# tests wait on hosts, timeouts and sleeps much of the time, so two of them share 2 cores well. The 15 slowest tests
# are listed at the end: the CI budget (30 minutes) is kept by looking at them.
# docs/reliability.md is regenerated from the run's reliability record (tests/reliability.py).
test: lint
	$(PY) -m pytest -n 2 --dist loadfile --durations=15
	$(PY) scripts/reliability_report.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

stop:
	-$(ITPM) lab down
	-$(ITPM) server stop

clean: stop
	rm -rf $(VENV) .itpm
