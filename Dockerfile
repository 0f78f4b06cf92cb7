# syntax=docker/dockerfile:1
# The gongyou binary on a small non-root runtime. Build from the repository root:
#   docker build -t registry.example.com/gongyou/gongyou:TAG .
# Dependencies are compiled in their own layer (cargo-chef): a change to Gongyou's code
# rebuilds only the workspace crates.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
WORKDIR /src
RUN cargo install cargo-chef --version 0.1.78 --locked

# The dependency graph only: recipe.json changes when Cargo.toml/Cargo.lock do.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ENV CARGO_TERM_COLOR=never
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --package gongyou --bin gongyou
COPY . .
RUN cargo build --release --locked --package gongyou --bin gongyou \
    && strip target/release/gongyou

# distroless/cc: glibc, libgcc, CA certificates and the tz database; no shell, no package
# manager; runs as uid/gid 65532 ("nonroot").
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
LABEL org.opencontainers.image.title="gongyou" \
      org.opencontainers.image.description="Gongyou (工友): REST API and background worker of a gig workers' union" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later"
COPY --from=builder /src/target/release/gongyou /usr/local/bin/gongyou
ENV GONGYOU_ENV=production \
    GONGYOU_HTTP_ADDR=0.0.0.0:8080 \
    GONGYOU_METRICS_ADDR=0.0.0.0:9090 \
    GONGYOU_DATA_DIR=/var/lib/gongyou
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/gongyou"]
CMD ["serve"]
