# rcopy's front door. `make check` is the main job; `make test` runs every test, loom included.

CARGO ?= cargo
BIN    = target/release/rcopy-check
LOOM_ENV = RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom

.PHONY: check build test unit docs loom traces bench explore clean

## Run every registered check of every protocol (standard tier) and print the verdict table;
## traces go to target/traces. Exit 0 only if every verdict matches its expectation.
check: build
	$(BIN) check --tier standard --threads 2 --traces target/traces

## The rcopy-check binary (cargo shows its progress on a first build).
build:
	$(CARGO) build --release -p rcopy-checks --bin rcopy-check

## All tests: unit, property, integration (every tiny check, both engines, trace snapshots,
## replay, the CLI, the library example), rustdoc without warnings, loom.
test: unit docs loom

unit:
	$(CARGO) test --workspace --no-fail-fast

docs:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --workspace

## loom: the structures threads share under every interleaving: ordering's stamp-and-enqueue
## (B9 caught), journal's in-order acknowledgement (B3 caught), relay's edges (B8, B20, B28 caught).
loom:
	$(LOOM_ENV) $(CARGO) test -p rcopy --features faults --release --test loom_ordering
	$(LOOM_ENV) $(CARGO) test -p rcopy --features faults --release --test loom_journal
	$(LOOM_ENV) $(CARGO) test -p rcopy --features faults --release --test loom_relay

## Regenerate the reviewed counterexample traces under traces/, then read the diff.
traces:
	INSTA_UPDATE=always $(CARGO) test -p rcopy-tests --test snapshots
	@git status --short traces/ ; git diff --stat traces/

## Benchmarks: rcopy's explorer and stateright's side by side; time to each counterexample;
## the journal's ring and 10,000 SIGKILL cycles; the real relay over UDP against plain UDP and
## 5,000 judged relay runs.
bench: build
	$(BIN) bench
	$(CARGO) build --release -p rcopy-tests --bin journal_bench --bin journal_node
	target/release/journal_bench --dir target
	RCOPY_KILLS=10000 $(CARGO) test --release -p rcopy-tests --test journal_file sigkill_cycles -- --nocapture
	$(CARGO) build --release -p rcopy-tests --bin relay_bench --bin relay_node
	target/release/relay_bench --dir target
	RCOPY_RELAY_RUNS=5000 $(CARGO) test --release -p rcopy-tests --test relay_udp runs -- --nocapture

## stateright's Explorer on 127.0.0.1:3000, e.g. `make explore ARGS="--config tiny --fault B1"`.
explore: build
	$(BIN) explore $(ARGS)

clean:
	$(CARGO) clean
