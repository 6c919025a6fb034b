# vmspop in a container: a static binary on distroless, run as a non-root
# account. The spool and the accounts file are volumes owned by that
# account (uid 65532); docs/service.md.
#
#   docker build -t vmspop .
#   docker run -p 110:110 -v /srv/vmspop/spool:/var/spool/vmspop \
#       -v /srv/vmspop/etc:/etc/vmspop:ro vmspop
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG REVISION=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.buildRevision=${REVISION}" -o /out/vmspop ./cmd/vmspop && \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/vmspop-deliver ./cmd/vmspop-deliver

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/vmspop /out/vmspop-deliver /usr/local/bin/
# Docker lets a container's processes bind ports below 1024
# (net.ipv4.ip_unprivileged_port_start=0), so no capability is needed.
ENV TCPIP_POP_LISTEN=:110 \
    TCPIP_POP_SPOOL=/var/spool/vmspop \
    TCPIP_POP_UAF=/etc/vmspop/uaf
USER 65532:65532
VOLUME ["/var/spool/vmspop"]
EXPOSE 110 995
ENTRYPOINT ["/usr/local/bin/vmspop"]
CMD ["serve"]
