# gradjit: `make demo` and `make test` are the whole set-up (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean fuzz docs perfdoc oracle

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

# the suite runs on every core (pytest-xdist): TEST_JOBS=1 for one process
TEST_JOBS ?= auto
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_JOBS) tests

# random programs through every check (tests/fuzz): make fuzz N=2000 [SEED=0] [JOBS=2]
N ?= 200
SEED ?= 0
JOBS ?= 1
fuzz: $(STAMP)
	cd tests && GRADJIT_FUZZ_N=$(N) GRADJIT_FUZZ_SEED=$(SEED) ../$(PY) -m fuzz --jobs $(JOBS)

# PyTorch as a test oracle (differential tests skip without it); JAX too, as a benchmark peer
ORACLE := $(VENV)/.oracle
$(ORACLE): $(STAMP)
	$(PY) -m pip install -q -e '.[oracle]'
	touch $(ORACLE)
oracle: $(ORACLE)

PEERS := $(VENV)/.peers
$(PEERS): $(STAMP)
	$(PY) -m pip install -q -e '.[bench]' || echo "bench: a peer could not be installed; its column says missing"
	touch $(PEERS)

bench: $(PEERS)
	$(PY) benchmarks/run.py $(if $(JSON),--json $(JSON))

# README's "Command line" section, regenerated from real runs of the gradjit command
docs: $(STAMP)
	$(PY) scripts/readme_cli.py

# README's "Performance" section from a real benchmark run (`make bench JSON=run.json` then
# `make perfdoc JSON=run.json` reuses that run's results)
perfdoc: $(PEERS)
	$(PY) scripts/readme_perf.py $(if $(JSON),--json $(JSON))

lint: $(STAMP)
	$(VENV)/bin/ruff check gradjit tests benchmarks examples

clean:
	rm -rf $(VENV) build *.egg-info
