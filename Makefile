# Everyday tasks, one name each.
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
REDIS_URL ?= redis://127.0.0.1:6379

.PHONY: demo test test-pg lint fmt bench openapi ci

demo:      ## run Gongyou on SQLite with demo data, server and worker in one process
	cargo run -- demo

test:      ## the whole suite on SQLite and in-process fallbacks
	cargo test

test-pg:   ## the whole suite on PostgreSQL + Redis
	GONGYOU_TEST_DATABASE_URL=$(PG_URL) GONGYOU_TEST_REDIS_URL=$(REDIS_URL) cargo test

lint:      ## formatting and clippy, as CI runs them
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

bench:     ## the notification benchmark on PostgreSQL (1,000,000 members; GONGYOU_BENCH_MEMBERS to change), needs wrk
	cargo build --release --bin gongyou
	GONGYOU_BENCH_DATABASE_URL=$(PG_URL) GONGYOU_BENCH_REDIS_URL=$(REDIS_URL) cargo bench -p gongyou-tests --bench notifications

openapi:   ## regenerate openapi.yaml from the code
	cargo run -q -- openapi > openapi.yaml

ci:        ## everything CI runs
	bash .ci/run
