# glancelab — the two set-up commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run labs test install install-test bench messages sample-image clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The API, the lab toolkit and the glance/openstack CLIs the labs' guides use.
install: $(BIN)/python
	$(BIN)/pip install -q -e '.[labs,clients]'

install-test: $(BIN)/python
	scripts/timed "Debian packages" scripts/install-system-deps
	scripts/timed "Python packages" $(BIN)/pip install -q -e '.[test,labs,clients]'
	scripts/install-ceph-bindings $(VENV)
	PYTHON=$(PYTHON) scripts/install-openstack-collection
	PYTHON=$(PYTHON) scripts/install-keystone

## The API on 127.0.0.1:9292 (SQLite, a filesystem store under ./var) and its dashboard
## on 127.0.0.1:9393 (noauth: no login, loopback only)
run: install
	@$(BIN)/glancelab dashboard --api-url http://127.0.0.1:9292 --keystone-url "" & \
	  dashboard=$$!; trap 'kill $$dashboard' EXIT INT TERM; $(BIN)/glancelab serve

## What the labs need on this machine too (Debian packages), then what is still missing
labs: install
	scripts/install-system-deps --labs
	PYTHON=$(PYTHON) scripts/install-keystone
	$(BIN)/glancelab lab doctor
	$(BIN)/glancelab lab prepare

## Install everything and run the whole test suite against real servers
# The API suites first (their servers start once per session), then the role scenarios,
# two at a time: each runs on its own lab host (four at a time on 2 cores made a lab's
# start take 12 minutes instead of 6, and the suite no shorter).
test: install-test
	scripts/timed "API, store, fault and cluster suites" \
	  $(BIN)/pytest $(PYTEST_ARGS) --ignore=tests/roles tests
	$(BIN)/pytest $(PYTEST_ARGS) -n 2 tests/roles  # its closing line ends the run, with its time

bench: install-test
	WITH_BENCH=1 scripts/install-system-deps
	$(BIN)/python bench/api_bench.py
	$(BIN)/python bench/data_path.py
	$(BIN)/python bench/labs_bench.py
	$(BIN)/python bench/dashboard_bench.py
	$(BIN)/python bench/module_count.py
	$(BIN)/python bench/auth_bench.py
	$(BIN)/python bench/soak.py
	$(BIN)/python bench/cluster_soak.py
	$(BIN)/python bench/list_scale.py
	$(BIN)/python bench/vs_glance.py  # installs Glance 33 into .venv-glance the first time

## sample.qcow2: a small real qcow2 image (qemu-img) for the README's client examples
sample-image:
	scripts/make-sample-image sample.qcow2

## The lab tooling's messages: extracted from the code, merged into each catalogue
# (api/glancelab_toolkit/locale/LANG/LC_MESSAGES/glancelab.po; translate the empty ones)
messages: install
	$(BIN)/pybabel -q extract -F babel.cfg -k _ --no-location --sort-output --omit-header \
	  -o api/glancelab_toolkit/locale/glancelab.pot .
	$(BIN)/pybabel -q update -i api/glancelab_toolkit/locale/glancelab.pot \
	  -d api/glancelab_toolkit/locale -D glancelab \
	  --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) .venv-cloud .venv-keystone var *.egg-info api/*.egg-info
