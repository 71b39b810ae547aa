using Microsoft.Extensions.Logging;
using ReadStates.Core;

namespace ReadStates.Tests.Durability;

/// <summary>Keeps every log entry (event id and formatted message) for assertions.</summary>
internal sealed class TestLogger : ILogger<ReadStateEngine>
{
    private readonly List<(int Id, LogLevel Level, string Message)> _entries = [];

    public IReadOnlyList<(int Id, LogLevel Level, string Message)> Entries
    {
        get { lock (_entries) return [.. _entries]; }
    }

    public IEnumerable<string> Messages(int eventId) => Entries.Where(e => e.Id == eventId).Select(e => e.Message);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries) _entries.Add((eventId.Id, logLevel, formatter(state, exception)));
    }
}
