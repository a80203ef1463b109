# Build: a release binary from the locked dependency set.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked --bin polis

# Run: a slim base, a non-root user, SQLite data on a volume by default.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/polis --shell /usr/sbin/nologin polis \
    && mkdir -p /var/lib/polis \
    && chown polis:polis /var/lib/polis
COPY --from=build /src/target/release/polis /usr/local/bin/polis
USER polis
WORKDIR /var/lib/polis
ENV DATABASE_URL=sqlite:///var/lib/polis/polis.db \
    POLIS_LISTEN_ADDR=0.0.0.0:8080 \
    POLIS_METRICS_LISTEN_ADDR=0.0.0.0:8081 \
    POLIS_LOG_FORMAT=json
VOLUME ["/var/lib/polis"]
# 8080: the API; 8081: Prometheus metrics (keep it off public networks).
EXPOSE 8080 8081
# SIGTERM starts a graceful shutdown (readiness 503, requests in flight finish).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
ENTRYPOINT ["polis"]
CMD ["serve"]
