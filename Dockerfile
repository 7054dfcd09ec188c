# syntax=docker/dockerfile:1
#
# Two worker images, built from examples/http (set WORKER_PACKAGE for your
# own worker program):
#
#   docker build --build-arg VERSION=v1.0.0 -t boomer-worker .
#       goczmq transport (cgo, libczmq) on Debian 12 slim, user 10001
#   docker build --build-arg VERSION=v1.0.0 --target static -t boomer-worker:static .
#       pure-Go transport (build tag purego), a static binary on
#       distroless/static, user 65532
#
# scripts/build-worker.sh holds the compiler flags, so `make worker-binaries`
# builds the same binaries without a container engine.

ARG GO_VERSION=1.26
ARG DEBIAN_RELEASE=bookworm

FROM golang:${GO_VERSION}-${DEBIAN_RELEASE} AS source
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .

FROM source AS build-static
ARG VERSION=dev
ARG WORKER_PACKAGE=./examples/http
RUN scripts/build-worker.sh static "${WORKER_PACKAGE}" /out/worker "${VERSION}"

FROM source AS build-default
RUN apt-get update \
    && apt-get install -y --no-install-recommends libczmq-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
ARG VERSION=dev
ARG WORKER_PACKAGE=./examples/http
RUN scripts/build-worker.sh default "${WORKER_PACKAGE}" /out/worker "${VERSION}"

FROM gcr.io/distroless/static-debian12:nonroot AS static
COPY --from=build-static /out/worker /worker
USER 65532:65532
ENTRYPOINT ["/worker"]

# The last stage is the image `docker build .` produces.
FROM debian:${DEBIAN_RELEASE}-slim AS default
RUN apt-get update \
    && apt-get install -y --no-install-recommends libczmq4 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin boomer
COPY --from=build-default /out/worker /usr/local/bin/worker
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/worker"]
