using Microsoft.Extensions.Logging.Abstractions;
using ReadStates.Cql;
using ReadStates.Tests.Cql.Server;

namespace ReadStates.Tests.Cql;

internal static class CqlTestSupport
{
    public const string CreateKeyspace = "CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}";
    public const string CreateTable = "CREATE TABLE IF NOT EXISTS ks.kv (k bigint, c bigint, v text, n int, PRIMARY KEY ((k), c))";

    public static CqlClientOptions Options(CqlTestServer server, Func<CqlClientOptions, CqlClientOptions>? configure = null, TimeSpan? requestTimeout = null)
    {
        var options = new CqlClientOptions
        {
            ContactPoints = [server.Address.ToString()],
            Port = server.Port,
            // Generous: a loaded 2-core CI box must not turn slowness into failures; tests that are about
            // timeouts set short per-request timeouts explicitly.
            Connection = new CqlConnectionSettings { RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(15), ConnectTimeout = TimeSpan.FromSeconds(15) },
            RetryDelay = TimeSpan.FromMilliseconds(5),
            ReconnectBaseDelay = TimeSpan.FromMilliseconds(20),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(200),
        };
        return configure is null ? options : configure(options);
    }

    public static async Task<CqlSession> ConnectAsync(CqlTestServer server, Func<CqlClientOptions, CqlClientOptions>? configure = null, TimeSpan? requestTimeout = null)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await CqlSession.ConnectAsync(Options(server, configure, requestTimeout), NullLogger.Instance, cts.Token);
    }

    public static async Task CreateSchemaAsync(CqlSession session)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        (await session.QueryAsync(CreateKeyspace, null, CqlRequestOptions.Default(), cts.Token))?.Dispose();
        (await session.QueryAsync(CreateTable, null, CqlRequestOptions.Default(), cts.Token))?.Dispose();
    }

    public static CancellationToken Timeout(int seconds = 30) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;
}
