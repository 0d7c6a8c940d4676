# congvan: every target sets itself up on a fresh Debian machine (apt packages, .venv).
SHELL := /bin/bash
PY := .venv/bin/python
APT_PACKAGES := tesseract-ocr tesseract-ocr-vie tesseract-ocr-script-viet poppler-utils qpdf \
	ocrmypdf fonts-liberation fonts-liberation2 fonts-noto-core fonts-dejavu-core \
	chromium chromium-driver postgresql
JOBS ?= $(shell nproc)

.PHONY: setup run serve demo-web test lint bench bench-scan bench-restore bench-extract bench-archive bench-born-digital bench-web bench-pg models samples clean

setup: .venv/.installed

.venv/.installed: pyproject.toml scripts/apt_setup.sh
	bash scripts/apt_setup.sh $(APT_PACKAGES)
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: setup
	.venv/bin/congvan process samples/ --out out/ --db out/archive.db --jobs $(JOBS)

serve: run
	.venv/bin/congvan serve --db out/archive.db

demo-web: run
	$(PY) scripts/demo_web.py --db out/archive.db --out out/screens

test: setup
	$(PY) -m pytest tests

lint: setup
	.venv/bin/ruff check pipeline tests scripts samples
	.venv/bin/mypy

models: setup
	$(PY) scripts/build_models.py

samples: setup
	$(PY) samples/generate.py --out samples/

bench: bench-scan bench-restore bench-extract bench-archive bench-born-digital bench-web bench-pg

bench-scan: setup
	$(PY) scripts/bench_scan.py

bench-restore: setup
	$(PY) scripts/bench_restore.py

bench-extract: setup
	$(PY) scripts/bench_extract.py

bench-archive: setup
	$(PY) scripts/bench_archive.py

bench-born-digital: setup
	$(PY) scripts/bench_born_digital.py

bench-web: setup
	$(PY) scripts/bench_web.py

bench-pg: setup
	$(PY) scripts/bench_pg.py

clean:
	rm -rf out build *.egg-info .pytest_cache .mypy_cache .ruff_cache
