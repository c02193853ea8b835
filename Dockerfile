# FlowForge as a container: built with the Rust toolchain, run from a slim
# Debian image as an unprivileged user. `docker compose up` (docker-compose.yml)
# runs it with PostgreSQL, NATS JetStream, Prometheus, Grafana and Jaeger.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin flowforge \
    && cp target/release/flowforge /usr/local/bin/flowforge

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/flowforge flowforge
COPY --from=build /usr/local/bin/flowforge /usr/local/bin/flowforge
USER 10001:10001
WORKDIR /var/lib/flowforge
ENV FLOWFORGE_LISTEN=0.0.0.0:8080 \
    FLOWFORGE_DATA_DIR=/var/lib/flowforge/data
EXPOSE 8080
ENTRYPOINT ["flowforge"]
CMD ["serve"]
