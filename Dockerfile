# A container image with one self-contained `mountcheck` (every backend linked in) and the
# bundled scenarios, for CI runners and clusters (Kubernetes Indexed Jobs: deploy/k8s-indexed-job.yaml).
#
#   docker build -t mountcheck .
#   docker run --rm mountcheck run --reports /tmp/reports
#
# The image needs no source tree and no cargo at run time: explorations run as child processes of
# the binary itself (`mountcheck __worker …`).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo install --locked --path harness --root /out

FROM debian:bookworm-slim
COPY --from=build /out/bin/mountcheck /usr/local/bin/mountcheck
COPY scenarios /usr/share/mountcheck/scenarios
WORKDIR /work
ENTRYPOINT ["mountcheck"]
CMD ["run", "--scenarios-dir", "/usr/share/mountcheck/scenarios", "--reports", "/work/reports"]
