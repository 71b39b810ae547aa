# syntax=docker/dockerfile:1
# ReadStates: build with the SDK image, run on the ASP.NET runtime image as a non-root user.
#   docker build -t readstates:0.1.0 .
#   docker run --rm -p 127.0.0.1:5000:5000 -p 127.0.0.1:9464:9464 -v readstates-data:/data readstates:0.1.0

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore from the project files alone, so source edits reuse the cached restore layer. linux-x64 only:
# a RID-specific restore and publish ship RocksDB's Linux x64 natives and none of the other platforms'.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY ReadStates/ReadStates.csproj ReadStates/
COPY ReadStates.Core/ReadStates.Core.csproj ReadStates.Core/
COPY ReadStates.Cql/ReadStates.Cql.csproj ReadStates.Cql/
COPY ReadStates.Durability/ReadStates.Durability.csproj ReadStates.Durability/
COPY ReadStates.Storage.RocksDb/ReadStates.Storage.RocksDb.csproj ReadStates.Storage.RocksDb/
COPY ReadStates.Storage.Scylla/ReadStates.Storage.Scylla.csproj ReadStates.Storage.Scylla/
RUN dotnet restore ReadStates/ReadStates.csproj -r linux-x64
COPY proto/ proto/
COPY ReadStates.Core/ ReadStates.Core/
COPY ReadStates.Cql/ ReadStates.Cql/
COPY ReadStates.Durability/ ReadStates.Durability/
COPY ReadStates.Storage.RocksDb/ ReadStates.Storage.RocksDb/
COPY ReadStates.Storage.Scylla/ ReadStates.Storage.Scylla/
COPY ReadStates/ ReadStates/
RUN dotnet publish ReadStates/ReadStates.csproj -c Release -r linux-x64 --self-contained false --no-restore -o /app /p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
# The image's non-root user (APP_UID) owns the data directory; the database lives in the volume.
RUN mkdir -p /data && chown "$APP_UID" /data
COPY --from=build /app ./
USER $APP_UID
VOLUME /data
ENV ReadStates__Storage__RocksDb__Path=/data \
    ASPNETCORE_URLS=http://0.0.0.0:5000 \
    ASPNETCORE_HTTP_PORTS= \
    ReadStates__Metrics__Host=0.0.0.0 \
    Logging__Console__FormatterName=json
# A 64 MiB gen0 budget: about a quarter as many gen0 and gen1 collections under load (BENCHMARKS.md,
# "GC through the service"). The runtime reads this knob from the environment only.
ENV DOTNET_GCgen0size=0x4000000
# 5000: gRPC (h2c). 9464: Prometheus metrics (HTTP/1.1, /metrics).
EXPOSE 5000 9464
# The binary's own probe asks grpc.health.v1 and exits 0 (SERVING) or 1; it starts no service.
# Liveness, not readiness: an orchestrator that replaces unhealthy containers must not replace one that
# holds unwritten changes while its store is down. `probe --service readiness` answers "store keeps up".
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["dotnet", "/app/ReadStates.dll", "probe", "--service", "liveness", "--address", "http://127.0.0.1:5000", "--timeout", "4"]
# SIGTERM (docker stop) flushes every change before exit: give it time (docker stop -t 45).
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "ReadStates.dll"]
