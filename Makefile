.PHONY: install test test-slow lint docs demo bench

install:
	pip install -e ".[tf-cpu,dev]"

test:
	python -m pytest

test-slow:
	python -m pytest -m slow

lint:
	ruff check xplique tests benchmarks

docs:
	mkdocs build --strict

demo:
	python -m xplique demo

bench:
	python benchmarks/run.py --markdown docs/benchmarks.md
