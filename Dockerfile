# syntax=docker/dockerfile:1
# The production gatehouse binary (authz, control-plane, policy test, catalog): static,
# non-root, on distroless. It links no development code (cmd/gatehouse/deps_test.go).
#   docker build -t ghcr.io/gatehouse-mcp/gatehouse:dev .
# The development image (upstream simulators, the dev platform) is a separate target; never
# deploy it:
#   docker build --target dev -t ghcr.io/gatehouse-mcp/gatehouse-dev:dev .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatehouse ./cmd/gatehouse

FROM build AS build-dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/gatehouse-dev ./cmd/gatehouse-dev

FROM gcr.io/distroless/static-debian12:nonroot AS dev
COPY --from=build-dev /out/gatehouse-dev /usr/local/bin/gatehouse-dev
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/gatehouse-dev"]

# The Temporal worker of the durable deployments (workflows/):
#   docker build --target worker -t ghcr.io/gatehouse-mcp/gatehouse-worker:dev .
FROM build AS build-worker
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatehouse-worker ./cmd/gatehouse-worker

FROM gcr.io/distroless/static-debian12:nonroot AS worker
COPY --from=build-worker /out/gatehouse-worker /usr/local/bin/gatehouse-worker
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/gatehouse-worker"]

# The certificate agent (Vault PKI → files, renewed; deploy/kubernetes-vault-pki):
#   docker build --target cert-agent -t ghcr.io/gatehouse-mcp/gatehouse-cert-agent:dev .
FROM build AS build-cert-agent
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatehouse-cert-agent ./cmd/gatehouse-cert-agent

FROM gcr.io/distroless/static-debian12:nonroot AS cert-agent
COPY --from=build-cert-agent /out/gatehouse-cert-agent /usr/local/bin/gatehouse-cert-agent
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/gatehouse-cert-agent"]

# The production image is the last stage, so a plain `docker build` makes it.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
# The default policy; deployments mount their own directory over it.
COPY policies /etc/gatehouse/policies
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/gatehouse"]
