# The one `bigmember` binary in a small image, run as a non-root user.
# Build: docker build -t bigmember .   (needs a registry for the base
# images; the project's own build machine has none, so CI lints this file
# with hadolint rather than building it.)

# Build stage: the toolchain the project pins (Rust 1.95), release build of
# the locked dependency graph.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin bigmember \
    && strip target/release/bigmember \
    && mkdir -p /out/data

# Runtime: glibc and libgcc, nothing else (no shell, no package manager).
# TLS roots are compiled into the binary (webpki roots; tls.ca_files adds
# private ones), and SQLite is linked in.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/bigmember /usr/local/bin/bigmember
# Where a process may write (the development secret, SQLite files), owned
# by the user it runs as; in a cluster, an emptyDir mounted here.
COPY --from=build --chown=65532:65532 /out/data /var/lib/bigmember
ENV BIGMEMBER_DATA_DIR=/var/lib/bigmember \
    BIGMEMBER_HOST=0.0.0.0
WORKDIR /var/lib/bigmember
# distroless's "nonroot" user, by number (what runAsNonRoot checks).
USER 65532:65532
EXPOSE 4000 4001 4002 4003 4004
ENTRYPOINT ["/usr/local/bin/bigmember"]
CMD ["--help"]
