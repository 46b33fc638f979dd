# rlcoach: the Discord bot (and the offline CLI) in a small image.
#   docker build -t rlcoach .
#   docker run -e DISCORD_TOKEN=... -v rlcoach-data:/data rlcoach
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so code changes don't rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY commands/Cargo.toml commands/Cargo.toml
# The patched boxcars (vendor/boxcars/PATCH.md) is a dependency too.
COPY vendor vendor
RUN mkdir -p src commands/src \
    && echo "" > src/lib.rs \
    && echo "fn main() {}" > commands/src/main.rs \
    && cargo build --release -p rlcoach-bot --bin rlcoach || true
COPY . .
RUN touch src/lib.rs commands/src/main.rs \
    && cargo build --release -p rlcoach-bot --bin rlcoach \
    && strip target/release/rlcoach

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin rlcoach \
    && mkdir -p /data && chown rlcoach:rlcoach /data
COPY --from=build /src/target/release/rlcoach /usr/local/bin/rlcoach
USER rlcoach
ENV RLCOACH_DATA_DIR=/data RUST_LOG=info
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["rlcoach", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["rlcoach"]
