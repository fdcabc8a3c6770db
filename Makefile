# Fresh machine -> .venv -> everything. Python 3.11 and Java 17 must be on the PATH.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export FRUITS_HOME ?= $(CURDIR)

.PHONY: install run test test-fast test-rest chromium ui partitions vacuum migrate-lake bench bench-e2e bench-smoke validate wheel emr-plan notebook clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Delta Lake's and S3A's jars, resolved by their Maven coordinates once into
# ~/.cache/fruits_assets/jvm (FRUITS_CACHE moves it): later runs and tests need no network.
# Then the class-data sharing archive local Spark drivers start from (spark_jobs/class_sharing.py).
install: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml
	@$(PY) -m fruits_assets.spark_jobs.packages
	@$(PY) -m fruits_assets.spark_jobs.class_sharing

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

run: install  ## materialize every asset on FRUITS_SOURCE (default: the embedded sample)
	$(PY) -m fruits_assets.cli run

test: test-fast test-rest  ## every test: the fast tier first, then the rest

test-fast: install  ## no JVM, no TensorFlow, no browser: definitions, contracts, checks, partitions, settings, CLI (under a minute)
	$(PY) -m pytest -m fast

test-rest: install chromium  ## Spark, the network, the pipeline in subprocesses, AWS emulation, the UI in a browser
	$(PY) -m pytest -m "not fast"

chromium:  ## Debian's Chromium for the UI test: installed with apt when root and missing
	@if [ ! -x /usr/bin/chromium ]; then \
	    if [ "$$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	    else echo "The UI test drives /usr/bin/chromium: install it with 'sudo apt-get install -y chromium'." >&2; exit 1; fi; \
	fi

ui: install  ## Dagster UI and daemon on http://127.0.0.1:3000
	$(VENV)/bin/dagster dev -h 127.0.0.1 -p 3000

partitions: install  ## register every class folder of the source as a partition
	$(PY) -m fruits_assets.cli partitions

vacuum: install  ## VACUUM the Delta tables and remove superseded model and CSV versions (7 days' retention)
	$(PY) -m fruits_assets.cli vacuum

migrate-lake: install  ## convert a lake of the versioned-folder layout of earlier versions into Delta tables
	$(PY) -m fruits_assets.cli migrate-lake

bench: install  ## throughput and memory benchmarks (see docs/benchmarks.md)
	$(PY) -m bench.featurize --pca --json bench-results/featurize.json $(BENCH_ARGS)
	$(PY) -m bench.scale --json bench-results/scale.json $(BENCH_ARGS)

bench-e2e: install  ## the whole CLI run on 50,000 distinct images in 100 classes, then two re-runs (BENCH_ARGS="--images 5000")
	$(PY) -m bench.e2e --json bench-results/e2e.json $(BENCH_ARGS)

bench-smoke: install  ## the benchmark code on a few images (seconds, not a measurement)
	$(PY) -m bench.featurize --images 24 --baseline-images 24 --pca

wheel: install  ## the wheel EMR nodes install (FRUITS_EMR_WHEEL)
	$(PY) -m pip wheel --quiet --no-deps -w dist .

emr-plan: install  ## print the EMR request a run would send and its hourly cost (no AWS call)
	$(PY) -m fruits_assets.cli emr-plan

notebook: install  ## Jupyter on notebooks/explore.ipynb (reads the lake `make run` leaves)
	$(PY) -m pip install --quiet -e '.[dev,notebook]'
	$(VENV)/bin/jupyter lab notebooks/explore.ipynb

validate: install  ## `dg check defs`: every definition loads
	$(VENV)/bin/dg check defs

clean:
	rm -rf .lake .sample .dagster_home test-artifacts bench-results dist
