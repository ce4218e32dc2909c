# The replog image for machines that reach the usual registries:
#
#   docker build -t replog:latest .        (docker compose up builds it by itself)
#   docker run --rm replog:latest --help
#
# Two stages: the official Swift image builds a release binary with the Swift runtime linked in
# statically; the runtime stage is slim Debian with only what that binary loads (OpenSSL 3's
# libssl3, glibc, libstdc++) plus wget for the compose file's health checks, and runs as the
# unprivileged user replog (uid 10001) owning /var/lib/replog. On a machine without a registry,
# scripts/build-image assembles an image of the same layout from a local build, and
# scripts/dockerfile-test builds this file's runtime stage on a debootstrap'ed Debian.

ARG SWIFT_VERSION=6.3
ARG DEBIAN_RELEASE=bookworm

FROM swift:${SWIFT_VERSION}-${DEBIAN_RELEASE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN swift build -c release --static-swift-stdlib --product replog \
    && install -D -m 0755 "$(swift build -c release --static-swift-stdlib --show-bin-path)/replog" /out/replog

FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libssl3 wget \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 replog \
    && useradd --uid 10001 --gid replog --no-create-home --home-dir /var/lib/replog --shell /usr/sbin/nologin replog \
    && mkdir -p /var/lib/replog/data /var/lib/replog/certs /var/lib/replog/backups \
        /var/lib/replog/init/replica-1 /var/lib/replog/init/replica-2 /var/lib/replog/init/replica-3 \
        /var/lib/replog/init/replica-4 /var/lib/replog/init/replica-5 /var/lib/replog/init/replica-6 \
        /var/lib/replog/init/replica-7 \
    && chown -R replog:replog /var/lib/replog
COPY --from=build /out/replog /usr/local/bin/replog
USER replog
WORKDIR /var/lib/replog
# Replicas listen on 7001, coordinators on 7100; admin endpoints on 7201 and 7251 in the compose file.
EXPOSE 7001 7100 7201 7251
ENTRYPOINT ["/usr/local/bin/replog"]
CMD ["--help"]
