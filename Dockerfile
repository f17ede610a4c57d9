# syntax=docker/dockerfile:1
# The production gatehouse binary (authz, control-plane, policy test, catalog, version): static,
# non-root, on distroless. It links no development code (cmd/gatehouse/deps_test.go); the dev
# platform, tokens and simulators are cmd/gatehouse-dev, which is never shipped.
#   docker build -t ghcr.io/gatehouse-mcp/gatehouse:dev .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatehouse ./cmd/gatehouse

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
# The default policy; deployments mount their own directory over it.
COPY policies /etc/gatehouse/policies
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/gatehouse"]
