# syntax=docker/dockerfile:1
# alloy-custom: stock Grafana Alloy plus loki.source.curated_api, as a static
# binary on an empty base image. `make image` builds it with docker or buildah.
#
# The final stage is also built from a locally compiled binary by the image
# smoke test (scripts/image-context.sh): keep its COPY lines in the form
# `COPY --from=builder /rootfs/...`.
ARG GO_IMAGE=golang:1.26.8-bookworm

FROM ${GO_IMAGE} AS builder
WORKDIR /src
COPY . .
ARG VERSION=v1.19.0-curated.dev
# A cold build compiles all of Alloy: ~16 min and ~7 GB of RAM on 2 cores.
# The Makefile builds with CGO_ENABLED=0, -trimpath and -ldflags "-s -w".
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    make build VERSION="${VERSION}" GIT_REVISION=docker GIT_BRANCH=docker && \
    scripts/image-rootfs.sh bin/alloy-custom /rootfs

FROM scratch
COPY --from=builder /rootfs/ /
COPY --from=builder --chown=10001:10001 /rootfs/var/lib/alloy/ /var/lib/alloy/
ENV TZ=UTC
USER 10001:10001
WORKDIR /var/lib/alloy
# 8080: the event API (loki.source.curated_api); 12345: Alloy's HTTP server
# (/metrics, /-/ready, UI).
EXPOSE 8080 12345
ENTRYPOINT ["/bin/alloy-custom"]
CMD ["run", "--server.http.listen-addr=0.0.0.0:12345", "--storage.path=/var/lib/alloy/data", \
     "--stability.level=experimental", "--disable-reporting", "/etc/alloy/config.alloy"]
