using System.Reflection;
using NetArchTest.Rules;
using ReadStates.Core;
using ReadStates.Cql;
using ReadStates.Durability;
using ReadStates.Storage.RocksDb;
using ReadStates.Storage.Scylla;

namespace ReadStates.Tests.Architecture;

/// <summary>
/// The design picture as rules the build cannot drift from: each assembly may use only what the arrows
/// allow. A forbidden reference fails here, naming the offending types.
/// </summary>
public sealed class DependencyRulesTests
{
    private static readonly Assembly CoreAssembly = typeof(ReadStateEngine).Assembly;
    private static readonly Assembly CqlAssembly = typeof(CqlSession).Assembly;
    private static readonly Assembly RocksDbAssembly = typeof(RocksDbStore).Assembly;
    private static readonly Assembly ScyllaAssembly = typeof(ScyllaStore).Assembly;
    private static readonly Assembly DurabilityAssembly = typeof(FileLogDevice).Assembly;
    private static readonly Assembly ServiceAssembly = typeof(ReadStates.Hosting.ReadStatesHost).Assembly;

    // Namespaces of the web stack, the wire formats and the stores' drivers.
    private static readonly string[] WebAndWire =
        ["Microsoft.AspNetCore", "Grpc", "Google.Protobuf", "Google.Rpc", "Prometheus", "OpenTelemetry"];

    [Fact]
    public void Core_UsesNoWebStack_NoStoreDriver_NoIo_AndNoOtherPartOfOurs()
    {
        AssertNone(CoreAssembly, "Core",
            [.. WebAndWire, "RocksDbSharp", "ReadStates.Cql", "ReadStates.Storage", "ReadStates.Api", "ReadStates.Hosting",
             "System.IO", "System.Net"]);
    }

    [Fact]
    public void ChangeLogFiles_UseCoreOnly()
    {
        // The file I/O behind Core's ILogDevice: no web stack, no store, no CQL.
        AssertNone(DurabilityAssembly, "ReadStates.Durability",
            [.. WebAndWire, "RocksDbSharp", "ReadStates.Cql", "ReadStates.Storage", "ReadStates.Api", "ReadStates.Hosting"]);
    }

    [Fact]
    public void CqlClient_ReferencesNothingOfOurs()
    {
        AssertNone(CqlAssembly, "ReadStates.Cql",
            [.. WebAndWire, "RocksDbSharp", "ReadStates.Core", "ReadStates.Storage", "ReadStates.Api", "ReadStates.Hosting"]);
    }

    [Fact]
    public void RocksDbStore_UsesCoreOnly()
    {
        AssertNone(RocksDbAssembly, "ReadStates.Storage.RocksDb",
            [.. WebAndWire, "ReadStates.Cql", "ReadStates.Storage.Scylla", "ReadStates.Api", "ReadStates.Hosting"]);
    }

    [Fact]
    public void ScyllaStore_UsesCoreAndTheCqlClientOnly()
    {
        AssertNone(ScyllaAssembly, "ReadStates.Storage.Scylla",
            [.. WebAndWire, "RocksDbSharp", "ReadStates.Storage.RocksDb", "ReadStates.Api", "ReadStates.Hosting"]);
    }

    [Fact]
    public void ServiceApi_DoesNotReachIntoTheStores()
    {
        // The gRPC edge talks to the engine; which store is behind it is the host's business.
        var result = Types.InAssembly(ServiceAssembly).That().ResideInNamespace("ReadStates.Api")
            .ShouldNot().HaveDependencyOnAny("ReadStates.Storage", "ReadStates.Cql", "RocksDbSharp", "ReadStates.Core.Cache")
            .GetResult();
        Assert.True(result.IsSuccessful, Describe("ReadStates.Api", result));
    }

    [Theory]
    [InlineData("ReadStates.Core", new[] { "Microsoft.Extensions.Logging.Abstractions" })]
    [InlineData("ReadStates.Cql", new[] { "Microsoft.Extensions.Logging.Abstractions", "K4os.Compression.LZ4" })]
    [InlineData("ReadStates.Storage.RocksDb", new[] { "ReadStates.Core", "RocksDbSharp", "Microsoft.Extensions.Logging.Abstractions" })]
    [InlineData("ReadStates.Storage.Scylla", new[] { "ReadStates.Core", "ReadStates.Cql", "Microsoft.Extensions.Logging.Abstractions" })]
    [InlineData("ReadStates.Durability", new[] { "ReadStates.Core" })]
    public void Assemblies_ReferenceOnlyTheirAllowedLibraries(string assemblyName, string[] allowed)
    {
        var assembly = Assembly.Load(assemblyName);
        var extra = assembly.GetReferencedAssemblies()
            .Select(a => a.Name!)
            .Where(n => !n.StartsWith("System", StringComparison.Ordinal) && n != "netstandard" && n != "mscorlib" && !allowed.Contains(n))
            .ToArray();
        Assert.True(extra.Length == 0, $"{assemblyName} references {string.Join(", ", extra)}; allowed beyond the BCL: {string.Join(", ", allowed)}.");
    }

    [Fact]
    public void TheRules_CatchAForbiddenReference()
    {
        // The rule machinery itself must be able to fail: the service assembly does use ASP.NET Core.
        var result = Types.InAssembly(ServiceAssembly).ShouldNot().HaveDependencyOn("Microsoft.AspNetCore").GetResult();
        Assert.False(result.IsSuccessful);
    }

    private static void AssertNone(Assembly assembly, string name, string[] forbidden)
    {
        var result = Types.InAssembly(assembly).ShouldNot().HaveDependencyOnAny(forbidden).GetResult();
        Assert.True(result.IsSuccessful, Describe(name, result));
    }

    private static string Describe(string name, TestResult result) =>
        $"{name} has forbidden dependencies in: {string.Join(", ", result.FailingTypeNames ?? [])}";
}
