# Shortcuts for ./dev (which needs nothing but sh and Python 3.11).
.PHONY: run test lint bench
run:
	./dev run
test:
	./dev test
lint:
	./dev lint
bench:
	./dev bench
