using ReadStates.Core.Storage;
using ReadStates.Cql;
using ReadStates.Tests.Cql.Server;
using ReadStates.Tests.Support;
using static ReadStates.Tests.Scylla.ScyllaTestSupport;

namespace ReadStates.Tests.Scylla;

/// <summary>
/// The store over TLS (Scylla:Tls:*) against the loopback CQL server in TLS mode: server validation
/// against a private CA, client certificates, and ScyllaDB's TLS shard-aware port.
/// </summary>
public sealed class ScyllaTlsTests : IDisposable
{
    private readonly TestCertificates _certs = new();

    public void Dispose() => _certs.Dispose();

    private CqlTestServer Server(bool requireClientCertificate = false, int shards = 0) => new(new CqlTestServerOptions
    {
        Certificate = _certs.Server,
        ClientCa = requireClientCertificate ? _certs.Ca : null,
        ShardCount = shards,
        ShardingIgnoreMsb = 12,
    });

    private async Task WriteAndLoadAsync(IReadStateStore store)
    {
        var batch = new StateBatch();
        for (ulong u = 40; u < 60; u++) AddUser(batch, u, count: 2, version: 1);
        await store.WriteAsync(batch, Timeout());
        for (ulong u = 40; u < 60; u++) AssertUser(await LoadAsync(store, u), u, 2, 1);
    }

    [Fact]
    public async Task Tls_TrustingThePrivateCa_WritesAndLoads_AndUsesTheTlsShardAwarePort()
    {
        await using var server = Server(shards: 12);
        await using var store = await CreateAsync(server, o => o.Tls = new() { Enabled = true, CaPath = _certs.CaPath });

        await WriteAndLoadAsync(store);

        Assert.True(server.TlsHandshakes >= 2, $"{server.TlsHandshakes} TLS handshakes");
        Assert.Equal(0, server.TlsFailures);
        // Every batch on the shard that owns its user: the connections came in through the TLS shard-aware
        // port (the plain one advertised in TLS mode has no listener).
        foreach (var b in server.Batches)
        {
            long user = System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(Convert.FromHexString(b.PartitionKey));
            Assert.Equal(ScyllaSharding.ShardOf(Murmur3.Token(user), 12, 12), b.Shard);
        }
    }

    [Fact]
    public async Task MutualTls_PresentsTheClientCertificate_AndWithoutItTheStoreCannotConnect()
    {
        await using var server = Server(requireClientCertificate: true);
        await using (var store = await CreateAsync(server, o => o.Tls = new()
        {
            Enabled = true, CaPath = _certs.CaPath, CertificatePath = _certs.ClientCertificatePath, KeyPath = _certs.ClientKeyPath,
        }))
        {
            await WriteAndLoadAsync(store);
        }
        Assert.Contains("CN=readstates-client", server.ClientCertificateSubjects);

        int failuresBefore = server.TlsFailures;
        await Assert.ThrowsAnyAsync<Exception>(() => CreateAsync(server, o => { o.Tls = new() { Enabled = true, CaPath = _certs.CaPath }; o.ConnectTimeout = TimeSpan.FromSeconds(5); }));
        Assert.True(server.TlsFailures > failuresBefore);
    }

    [Fact]
    public async Task AServerCertificateTheClientDoesNotTrust_OrThatNamesAnotherHost_IsRefused_NotRetriedForever()
    {
        await using var server = Server();

        var untrusted = await Assert.ThrowsAnyAsync<CqlException>(() => CreateAsync(server, o => o.Tls = new() { Enabled = true }));
        Assert.Contains("TLS with", untrusted.ToString(), StringComparison.Ordinal);

        var misnamed = await Assert.ThrowsAnyAsync<CqlException>(() => CreateAsync(server, o => o.Tls = new() { Enabled = true, CaPath = _certs.CaPath, ServerName = "scylla.example" }));
        Assert.Contains("TLS with", misnamed.ToString(), StringComparison.Ordinal);

        // The same name is fine once name checks are off (certificates that name no node).
        await using var store = await CreateAsync(server, o => o.Tls = new() { Enabled = true, CaPath = _certs.CaPath, ServerName = "scylla.example", ValidateHostName = false });
        await WriteAndLoadAsync(store);
    }

    [Fact]
    public async Task APlainClient_CannotTalkToATlsNode()
    {
        await using var server = Server();

        await Assert.ThrowsAnyAsync<Exception>(() => CreateAsync(server, o => o.ConnectTimeout = TimeSpan.FromSeconds(3)));

        Assert.Equal(0, server.TlsHandshakes);
    }

    [Theory]
    [InlineData(true, "/nonexistent/ca.pem", null, null, "Tls:CaPath '/nonexistent/ca.pem' cannot be read")]
    [InlineData(true, null, "client.pem", null, "Tls:CertificatePath and Tls:KeyPath must be set together")]
    [InlineData(false, "ca.pem", null, null, "Tls:Enabled is false")]
    public void BadTlsSettings_AreReported(bool enabled, string? ca, string? certificate, string? key, string message)
    {
        var options = new ReadStates.Storage.Scylla.ScyllaOptions { Tls = new() { Enabled = enabled, CaPath = ca, CertificatePath = certificate, KeyPath = key } };

        Assert.Contains(options.Validate(), e => e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void GoodTlsSettings_AreValid()
    {
        var options = new ReadStates.Storage.Scylla.ScyllaOptions
        {
            Tls = new() { Enabled = true, CaPath = _certs.CaPath, CertificatePath = _certs.ClientCertificatePath, KeyPath = _certs.ClientKeyPath },
        };

        Assert.Empty(options.Validate());
    }
}
