# mqreg in a container: built with the Rust toolchain, run as a non-root user
# with the state in a volume.
#   docker build -t mqreg .
#   docker run -d --name mqreg -p 1883:1883 -p 8883:8883 -p 8080:8080 \
#       -v mqreg-state:/var/lib/mqreg mqreg
#   docker exec mqreg mqreg registry unlock
#   docker exec mqreg mqreg token create admin --role admin   # then http://localhost:8080/
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, in a layer of their own: a change to mqreg's sources
# rebuilds mqreg only. The stub targets stand in for the real ones.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches/broker \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for bench in cli argon2 access; do echo 'fn main() {}' > benches/$bench.rs; done \
    && echo 'fn main() {}' > benches/broker/main.rs \
    && cargo build --release --locked \
    && rm -rf src benches
COPY . .
# Newer than the stubs' build, so cargo rebuilds mqreg itself.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
RUN useradd --system --home-dir /var/lib/mqreg --shell /usr/sbin/nologin mqreg \
    && mkdir -p /var/lib/mqreg && chown mqreg:mqreg /var/lib/mqreg && chmod 700 /var/lib/mqreg
COPY --from=build /src/target/release/mqreg /usr/local/bin/mqreg
USER mqreg
ENV MQREG_STATE=/var/lib/mqreg/state.toml \
    MQREG_LISTEN=0.0.0.0:1883 \
    MQREG_HTTP=0.0.0.0:8080
VOLUME /var/lib/mqreg
# MQTT, MQTT over TLS (with MQREG_TLS_LISTEN=0.0.0.0:8883 and a certificate),
# and the HTTP API.
EXPOSE 1883 8883 8080
# /healthz answers 200 while the broker serves; bash's /dev/tcp needs no
# HTTP client in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
ENTRYPOINT ["mqreg"]
CMD ["serve"]
