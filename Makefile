# make demo : upgrade a simulated 3-front-end cluster (lab) from 6.10 to 7.0 and print the report path
# make demo-real: a real 3+2 lab (OpenNebula built from ../shared/opennebula) and the runbook on it
# make test : lint, type-check and run the whole test suite (the real tier's tests build
#             OpenNebula into /var/cache/oneupgrade-lab the first time: minutes, once)
# make bench: the scale benchmark (3 front-ends, 50 hypervisors); make bench-200: 3 + 200
# Each target installs what it needs on a fresh Debian or Ubuntu machine (run as root).

VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3
STAMP  := $(VENV)/.installed

.PHONY: setup system-packages test lint demo demo-real real-build bench bench-200 clean

setup: system-packages $(STAMP)

# The lab needs real OpenSSH servers, rsync, a system python3 for the simulated tools,
# util-linux (unshare, nsenter) and iproute2 (the --jump lab's network namespace);
# the report test opens the HTML report in a headless Chromium.
system-packages:
	@if ! [ -x /usr/sbin/sshd ] || ! command -v rsync >/dev/null || ! [ -x /usr/bin/python3 ] \
	     || ! command -v ssh-keygen >/dev/null || ! command -v sudo >/dev/null \
	     || ! command -v chromium >/dev/null || ! command -v ip >/dev/null \
	     || ! command -v nsenter >/dev/null || ! command -v ps >/dev/null \
	     || ! $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	        openssh-server openssh-client rsync sudo python3 python3-venv procps util-linux iproute2 \
	        chromium >/dev/null; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The real tier and the simulated one side by side (tests/tiers.py); `$(PY) -m pytest`
# runs them one after the other.
test: lint real-build
	$(PY) -m tests.tiers

demo: setup
	$(PY) -m onelab.demo

# Builds (or finds cached) every OpenNebula release of ../shared/opennebula and its repository.
real-build: setup
	$(PY) -m onelab.real

demo-real: setup
	$(PY) -m onelab.demo --opennebula real

bench: setup
	$(PY) -m bench.scale

bench-200: setup
	$(PY) -m bench.scale --hypervisors 200 --forks 50 --no-by-hand

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
