# mqreg in a container: built with the Rust toolchain, run as a non-root user
# with the state in a volume.
#   docker build -t mqreg .
#   docker run -d --name mqreg -p 1883:1883 -v mqreg-state:/var/lib/mqreg mqreg
#   docker exec mqreg mqreg registry unlock
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN useradd --system --home-dir /var/lib/mqreg --shell /usr/sbin/nologin mqreg \
    && mkdir -p /var/lib/mqreg && chown mqreg:mqreg /var/lib/mqreg && chmod 700 /var/lib/mqreg
COPY --from=build /src/target/release/mqreg /usr/local/bin/mqreg
USER mqreg
ENV MQREG_STATE=/var/lib/mqreg/state.toml
VOLUME /var/lib/mqreg
EXPOSE 1883
ENTRYPOINT ["mqreg"]
CMD ["serve", "--listen", "0.0.0.0:1883"]
