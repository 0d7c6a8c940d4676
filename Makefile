# congvan: every target sets itself up on a fresh Debian machine (apt packages, .venv).
SHELL := /bin/bash
PY := .venv/bin/python
APT_PACKAGES := tesseract-ocr tesseract-ocr-vie tesseract-ocr-script-viet tesseract-ocr-osd poppler-utils qpdf \
	ghostscript ocrmypdf unpaper fonts-liberation fonts-liberation2 fonts-noto-core fonts-dejavu-core fonts-croscore \
	chromium chromium-driver postgresql
JOBS ?= $(shell nproc)

.PHONY: setup dev run serve demo-web test lint bench bench-scan bench-restore bench-extract bench-archive \
	bench-born-digital bench-web bench-rasterize bench-real bench-real-variants bench-pg mutate models samples clean

# setup: what congvan needs to run (no test, lint or data-building tools); dev: all of those as well.
setup: .venv/.installed

dev: .venv/.installed-dev

.venv/.installed: pyproject.toml scripts/apt_setup.sh
	bash scripts/apt_setup.sh $(APT_PACKAGES)
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

.venv/.installed-dev: .venv/.installed
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: setup
	.venv/bin/congvan process samples/ --out out/ --db out/archive.db --jobs $(JOBS)

serve: run
	.venv/bin/congvan serve --db out/archive.db

demo-web: run dev
	$(PY) scripts/demo_web.py --db out/archive.db --out out/screens

test: dev
	$(PY) -m pytest tests

lint: dev
	.venv/bin/ruff check pipeline build_tools tests scripts samples
	.venv/bin/mypy

models: dev
	nice -n 10 $(PY) scripts/build_models.py
	nice -n 10 $(PY) scripts/build_digit_model.py
	nice -n 10 $(PY) scripts/build_name_model.py

samples: dev
	$(PY) samples/generate.py --out samples/

# Benchmarks and the mutation run are slow and not part of `make test`; `make bench` runs them all.
bench: bench-scan bench-restore bench-extract bench-archive bench-born-digital bench-web bench-rasterize bench-real \
	bench-real-variants bench-pg mutate

bench-scan: dev
	$(PY) scripts/bench_scan.py

bench-restore: dev
	nice -n 10 $(PY) scripts/bench_restore.py

bench-extract: dev
	$(PY) scripts/bench_extract.py

bench-archive: dev
	$(PY) scripts/bench_archive.py

bench-born-digital: dev
	$(PY) scripts/bench_born_digital.py

bench-web: dev
	$(PY) scripts/bench_web.py

bench-rasterize: dev
	$(PY) scripts/bench_rasterize.py

bench-real: dev
	nice -n 10 $(PY) scripts/bench_real.py

bench-real-variants: dev
	nice -n 10 $(PY) scripts/bench_real_variants.py

mutate: dev
	$(PY) scripts/mutate.py

bench-pg: dev
	$(PY) scripts/bench_pg.py

clean:
	rm -rf out build *.egg-info .pytest_cache .mypy_cache .ruff_cache
	git worktree prune
