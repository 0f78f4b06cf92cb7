# Everyday tasks, one name each.
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
REDIS_URL ?= redis://127.0.0.1:6379

.PHONY: demo test test-pg lint fmt console console-e2e bench bench-notifications bench-stations bench-roster bench-claims bench-reconcile bench-startup bench-tools openapi fuzz clients k8s-check ci

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

bench: bench-notifications bench-stations bench-roster bench-claims bench-reconcile bench-startup  ## every benchmark (README, Performance)

bench-tools:  ## wrk and redis-benchmark, when missing (Debian)
	command -v wrk >/dev/null && command -v redis-benchmark >/dev/null || \
		(apt-get update && apt-get install -y wrk redis-tools)

bench-notifications: bench-tools  ## a campaign to 1,000,000 members (JPush), then rounds of campaigns to 100,000 as WeChat subscribe messages, on PostgreSQL (GONGYOU_BENCH_MEMBERS, GONGYOU_BENCH_SUBSCRIBE_MEMBERS, GONGYOU_BENCH_ROUNDS, GONGYOU_BENCH_WORKER_THREADS, GONGYOU_BENCH_PART=push|subscribe)
	cargo build --release --bin gongyou
	GONGYOU_BENCH_DATABASE_URL=$(PG_URL) GONGYOU_BENCH_REDIS_URL=$(REDIS_URL) cargo bench -p gongyou-tests --bench notifications

bench-roster:  ## a 1,000,000-row roster import against 1,000,000 members on PostgreSQL, against psql \copy (GONGYOU_BENCH_MEMBERS to change; needs psql and curl)
	cargo build --release --bin gongyou
	GONGYOU_BENCH_DATABASE_URL=$(PG_URL) cargo bench -p gongyou-tests --bench roster

bench-claims:  ## the review queue over 1,000,000 claims on PostgreSQL: page 1 against page 1,000 (keyset), a filtered page, their plans (GONGYOU_BENCH_CLAIMS to change)
	cargo build --release --bin gongyou
	GONGYOU_BENCH_DATABASE_URL=$(PG_URL) cargo bench -p gongyou-tests --bench claims

bench-reconcile:  ## reconcile a 1,000,000-line WeChat Pay bill against 1,000,000 payouts on PostgreSQL, against psql \copy (GONGYOU_BENCH_LINES to change; needs psql and curl)
	cargo build --release --bin gongyou
	GONGYOU_BENCH_DATABASE_URL=$(PG_URL) cargo bench -p gongyou-tests --bench reconcile

bench-startup:  ## a serve replica with 150,000 stations in PostgreSQL until /readyz 200, against psql reading the same rows (GONGYOU_BENCH_STATIONS; needs psql and curl)
	cargo build --release --bin gongyou
	GONGYOU_BENCH_DATABASE_URL=$(PG_URL) bash ci/bench/startup.sh

bench-stations: bench-tools  ## nearby search on 150,000 stations at the 1,000 busiest seats, at 14:00 and 03:00 (pinned), against Redis GEOSEARCH, /healthz and a console file of the answer's size, and the index's resident memory (GONGYOU_BENCH_STATIONS, GONGYOU_BENCH_POINTS, GONGYOU_BENCH_SECONDS, GONGYOU_BENCH_ROUNDS, GONGYOU_BENCH_IN_PROCESS_ONLY=1)
	cargo build --release --bin gongyou
	GONGYOU_BENCH_REDIS_URL=$(REDIS_URL) cargo bench -p gongyou-tests --bench stations

openapi:   ## regenerate openapi.yaml from the code (then `make console`: the console is typed from it)
	cargo run -q -- openapi > openapi.yaml

console:   ## rebuild the staff console's assets (console/dist, embedded by the binary; commit them) from console/src and openapi.yaml
	ci/console/run.sh --build-only

console-e2e:  ## the console's gate: assets match the sources, then Playwright + axe in headless Chromium against a fresh demo (console/e2e)
	cargo build -q -p gongyou
	ci/console/run.sh target/debug/gongyou

k8s-check:  ## render and validate the Kubernetes manifests, lint them and the Dockerfile (k8s/README.md)
	bash ci/k8s/check.sh

fuzz:      ## schemathesis from openapi.yaml against a fresh demo, admin and worker (ci/schemathesis)
	cargo build -q -p gongyou
	ci/schemathesis/run.sh target/debug/gongyou

clients:   ## generate the TypeScript and Python clients from openapi.yaml; drive a journey with the first
	cargo build -q -p gongyou
	clients/journey/run.sh openapi.yaml target/debug/gongyou
	clients/python/run.sh openapi.yaml

ci:        ## everything CI runs
	bash .ci/run
