using ReadStates.Core;

namespace ReadStates.Tests.Core;

/// <summary>Write-behind runs on its own thread, below the priority of the threads answering calls (Engine:WriteBehindPriority).</summary>
public sealed class WriteBehindThreadTests
{
    private sealed record Seen(string? Thread, bool PoolThread, int Nice);

    private static async Task<Seen> FirstWrite(WriteBehindPriority priority)
    {
        var seen = new TaskCompletionSource<Seen>(TaskCreationOptions.RunContinuationsAsynchronously);
        var store = new MemoryStore
        {
            BeforeWrite = _ =>
            {
                seen.TrySetResult(new Seen(Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread,
                    OperatingSystem.IsLinux() ? ThreadNice.Current() : 0));
                return Task.CompletedTask;
            },
        };
        var options = EngineTestKit.SmallOptions();
        options.WriteBehindPriority = priority;
        await using var engine = EngineTestKit.Create(store, options);
        engine.Start();
        await engine.Ack(1, 10, 100);
        return await seen.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Flush_RunsOnItsOwnThread_NotThePool()
    {
        var seen = await FirstWrite(WriteBehindPriority.Low);
        Assert.Equal(ReadStateEngine.WriteBehindThreadName, seen.Thread);
        Assert.False(seen.PoolThread);
    }

    [SkippableFact]
    public async Task LowPriority_RaisesTheWriteBehindThreadsNiceValue_AndNoOtherThreads()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "thread nice values are Linux-only");
        int callerNice = ThreadNice.Current();
        var seen = await FirstWrite(WriteBehindPriority.Low);
        Assert.Equal(Math.Max(callerNice, ReadStateEngine.WriteBehindNice), seen.Nice);
        Assert.Equal(callerNice, ThreadNice.Current());
    }

    [SkippableFact]
    public async Task NormalPriority_LeavesTheNiceValueAlone()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "thread nice values are Linux-only");
        int callerNice = ThreadNice.Current();
        var seen = await FirstWrite(WriteBehindPriority.Normal);
        Assert.Equal(ReadStateEngine.WriteBehindThreadName, seen.Thread);
        Assert.Equal(callerNice, seen.Nice);
    }

    [Fact]
    public void UnknownPriority_IsRejected()
    {
        var options = new EngineOptions { WriteBehindPriority = (WriteBehindPriority)7 };
        Assert.Contains(options.Validate(), e => e.StartsWith("WriteBehindPriority", StringComparison.Ordinal));
    }
}
