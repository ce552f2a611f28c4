# rcopy's front door. `make check` is the main job; `make test` runs every test, loom included.

CARGO ?= cargo
CHECK  = $(CARGO) run --quiet --release -p rcopy-checks --bin rcopy-check --
LOOM_ENV = RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom

.PHONY: check test unit loom traces bench explore clean

## Run every registered check (standard tier) and print the verdict table. Exit 0 only if
## every verdict matches its expectation.
check:
	$(CHECK) check --tier standard

## All tests: unit, property, integration (every tiny check, trace snapshots, replay), loom.
test: unit loom

unit:
	$(CARGO) test --workspace --no-fail-fast

## loom: the shared stamp-and-enqueue structure under every interleaving (and B9 caught).
loom:
	$(LOOM_ENV) $(CARGO) test -p rcopy --features faults --release --test loom_ordering

## Regenerate the reviewed counterexample traces under traces/, then read the diff.
traces:
	INSTA_UPDATE=always $(CARGO) test -p rcopy-tests --test snapshots
	@git status --short traces/ ; git diff --stat traces/

## Benchmarks: unique states, states/s, peak memory, time to each counterexample.
bench:
	$(CHECK) bench

## stateright's Explorer on 127.0.0.1:3000, e.g. `make explore ARGS="--config tiny --fault B1"`.
explore:
	$(CHECK) explore $(ARGS)

clean:
	$(CARGO) clean
