# Fresh machine -> .venv -> everything. Python 3.11 and Java 17 must be on the PATH.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export FRUITS_HOME ?= $(CURDIR)

.PHONY: install run test test-fast chromium ui partitions bench bench-e2e bench-smoke validate wheel emr-plan s3a-jars notebook clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Spark's classes as a JVM loads them, for faster local session starts (spark_jobs/class_archive.py).
# Optional: without it (a JDK that cannot write one) sessions start as they always did.
$(VENV)/.class-archive: $(VENV)/.installed
	$(PY) -m fruits_assets.spark_jobs.class_archive || echo "note: no Spark class archive; local sessions start without it" >&2
	touch $@

install: $(VENV)/.installed $(VENV)/.class-archive $(DAGSTER_HOME)/dagster.yaml

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

run: install  ## materialize every asset on FRUITS_SOURCE (default: the embedded sample)
	$(PY) -m fruits_assets.cli run

test: install chromium  ## the whole test suite
	$(PY) -m pytest

test-fast: install  ## the quick tier: no browser, no AWS emulation, no full-pipeline subprocess runs (under 3 minutes)
	$(PY) -m pytest -m "not slow and not browser and not aws"

chromium:  ## Debian's Chromium for the UI test: installed with apt when root and missing
	@if [ ! -x /usr/bin/chromium ]; then \
	    if [ "$$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	    else echo "The UI test drives /usr/bin/chromium: install it with 'sudo apt-get install -y chromium'." >&2; exit 1; fi; \
	fi

ui: install  ## Dagster UI and daemon on http://127.0.0.1:3000
	$(VENV)/bin/dagster dev -h 127.0.0.1 -p 3000

partitions: install  ## register every class folder of the source as a partition
	$(PY) -m fruits_assets.cli partitions

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

s3a-jars: install  ## fetch the S3A jars for Spark on s3:// from a laptop (cached; see README)
	$(PY) -m fruits_assets.cli s3a-jars

validate: install
	$(VENV)/bin/dagster definitions validate -m fruits_assets.definitions

clean:
	rm -rf .lake .sample .dagster_home test-artifacts bench-results dist
