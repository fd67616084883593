# Multi-stage build of the `augur` binary.
# Build stage: Rust on Debian 12, linking Debian's RocksDB (see docs/development.md).
FROM rust:1-bookworm AS build
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libclang-dev librocksdb-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN ROCKSDB_LIB_DIR="/usr/lib/$(gcc -dumpmachine)" ROCKSDB_INCLUDE_DIR=/usr/include \
    cargo build --release --locked --bin augur \
 && cp target/release/augur /augur

# Runtime stage: only the shared libraries the binary links.
FROM debian:bookworm-slim
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends librocksdb7.8 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/augur --create-home augur
COPY --from=build /augur /usr/local/bin/augur
USER augur
WORKDIR /var/lib/augur
VOLUME ["/var/lib/augur"]
EXPOSE 8086
ENV AUGUR_DATA_DIR=/var/lib/augur/data AUGUR_LISTEN=0.0.0.0:8086
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8086/health || exit 1
ENTRYPOINT ["augur"]
CMD ["serve"]
