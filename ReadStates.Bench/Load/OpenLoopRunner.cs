using System.Collections.Concurrent;
using System.Diagnostics;
using HdrHistogram;

namespace ReadStates.Bench.Load;

internal sealed record RunSettings(double Rate, TimeSpan Duration, TimeSpan Warmup, int Connections, int Workers, int MaxInFlight,
    TimeSpan Drain, int Seed, bool Progress, int ServerPid = 0, bool SleepPacing = false, Transport Transport = Transport.Unary, int IntervalSeconds = 0);

internal sealed class RunResult
{
    public required string Target { get; init; }
    public required string Address { get; init; }
    public required RunSettings Settings { get; init; }
    /// <summary>Microseconds from the intended send time to the reply (corrected for coordinated omission).</summary>
    public required HistogramBase Latency { get; init; }
    /// <summary>Microseconds from the actual send to the reply (what a closed-loop tool would report).</summary>
    public required HistogramBase Service { get; init; }
    /// <summary>Microseconds the generator sent late (its own lag: scheduling, in-flight cap).</summary>
    public required HistogramBase SendLag { get; init; }
    /// <summary>Latency from the intended send, per operation kind (indexed by <see cref="OpKind"/>).</summary>
    public required HistogramBase[] ByOp { get; init; }
    /// <summary>Read states the completed operations of the measured window asked to change (ack 1, bulk ack its entries, mention its users).</summary>
    public long UpdatesInWindow { get; init; }
    /// <summary>With <see cref="RunSettings.IntervalSeconds"/>: the measured latency of each interval (by completion time).</summary>
    public IReadOnlyList<HistogramBase> Intervals { get; init; } = [];
    public double UpdatesPerSecond => UpdatesInWindow / Settings.Duration.TotalSeconds;
    public long Sent { get; init; }
    public long Completed { get; init; }
    public long CompletedInWindow { get; init; }
    public long Errors { get; init; }
    public required Dictionary<string, long> ErrorKinds { get; init; }
    public long Unfinished { get; init; }
    /// <summary>CPU time per completed request in the measured window, µs: this generator, and the server when its pid was given.</summary>
    public double GeneratorCpuMicrosPerOp { get; init; } = double.NaN;
    public double ServerCpuMicrosPerOp { get; init; } = double.NaN;
    public double AchievedRate => CompletedInWindow / Settings.Duration.TotalSeconds;
    public double P(double percentile) => Latency.TotalCount == 0 ? double.NaN : Latency.GetValueAtPercentile(percentile) / 1000.0;
    public double MaxMs => Latency.TotalCount == 0 ? double.NaN : Latency.GetMaxValue() / 1000.0;
}

/// <summary>
/// Open-loop load: each worker thread sends on a fixed schedule (rate / workers, phase-shifted), never
/// waiting for replies, and every latency is measured from the time the request was due, not from when
/// it left, so a stall shows up in every request it delayed (no coordinated omission). Per-worker
/// HdrHistogram recorders are merged at the end.
/// </summary>
internal static class OpenLoopRunner
{
    private const long HighestMicros = 60_000_000;

    private sealed class Worker(int index)
    {
        public readonly int Index = index;
        public readonly Recorder Measured = NewRecorder();
        public readonly Recorder Warm = NewRecorder();
        public readonly Recorder Service = NewRecorder();
        public readonly Recorder Lag = NewRecorder();
        public readonly HistogramBase Total = NewHistogram();
        public readonly HistogramBase ServiceTotal = NewHistogram();
        public readonly HistogramBase LagTotal = NewHistogram();
        public readonly Recorder[] ByOp = [.. Enumerable.Range(0, OpKinds.Count).Select(_ => NewRecorder())];
        public readonly HistogramBase[] ByOpTotal = [.. Enumerable.Range(0, OpKinds.Count).Select(_ => NewHistogram())];
        public long Sent, Completed, InWindow, Errors, InFlight, Updates;

        /// <summary>Moves what the recorders hold into the totals (the progress loop and the end of the run do this).</summary>
        public HistogramBase Drain()
        {
            var m = Measured.GetIntervalHistogram();
            Total.Add(m);
            ServiceTotal.Add(Service.GetIntervalHistogram());
            LagTotal.Add(Lag.GetIntervalHistogram());
            for (int k = 0; k < ByOp.Length; k++) ByOpTotal[k].Add(ByOp[k].GetIntervalHistogram());
            return m;
        }
    }

    private static Recorder NewRecorder() =>
        HistogramFactory.With64BitBucketSize().WithValuesFrom(1).WithValuesUpTo(HighestMicros).WithPrecisionOf(3)
            .WithThreadSafeWrites().WithThreadSafeReads().Create();

    public static HistogramBase NewHistogram() =>
        HistogramFactory.With64BitBucketSize().WithValuesFrom(1).WithValuesUpTo(HighestMicros).WithPrecisionOf(3).Create();

    private static long Micros(long ticks) => Math.Clamp(ticks * 1_000_000 / Stopwatch.Frequency, 1, HighestMicros);

    public static async Task<RunResult> RunAsync(ILoadTarget target, Workload workload, RunSettings s, CancellationToken ct)
    {
        if (s.Rate <= 0) throw new Cli.UsageException("--rate must be positive.");
        int workerCount = Math.Clamp(s.Workers, 1, s.Connections);
        var workers = Enumerable.Range(0, workerCount).Select(i => new Worker(i)).ToArray();
        var errorKinds = new ConcurrentDictionary<string, long>();
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(ct);

        long freq = Stopwatch.Frequency;
        long start = Stopwatch.GetTimestamp() + freq / 20; // all workers start together, 50 ms from now
        long measureStart = start + (long)(s.Warmup.TotalSeconds * freq);
        long end = measureStart + (long)(s.Duration.TotalSeconds * freq);
        double interval = freq * workerCount / s.Rate; // ticks between two sends of one worker
        var pending = new ConcurrentDictionary<Task, byte>();

        // CPU time of both processes over the measured window: where the cores go per request.
        TimeSpan genCpu0 = default, srvCpu0 = default, genCpu1 = default, srvCpu1 = default;
        long completedAtStart = 0, completedAtEnd = 0;
        var cpuProbe = Task.Run(async () =>
        {
            await DelayUntil(measureStart);
            (genCpu0, srvCpu0, completedAtStart) = (CpuTime(0), CpuTime(s.ServerPid), workers.Sum(w => Interlocked.Read(ref w.Completed)));
            await DelayUntil(end);
            (genCpu1, srvCpu1, completedAtEnd) = (CpuTime(0), CpuTime(s.ServerPid), workers.Sum(w => Interlocked.Read(ref w.Completed)));
        });
        var threads = workers.Select(w => new Thread(() => Dispatch(w)) { IsBackground = true, Name = $"load-{w.Index}", Priority = ThreadPriority.AboveNormal }).ToArray();
        foreach (var t in threads) t.Start();
        var intervals = new List<HistogramBase>();
        var progress = Task.Run(() => ProgressLoop());
        foreach (var t in threads) t.Join();

        // Let the last replies arrive (bounded), then give up on the rest.
        var drainUntil = Stopwatch.GetTimestamp() + (long)(s.Drain.TotalSeconds * freq);
        while (workers.Sum(w => Interlocked.Read(ref w.InFlight)) > 0 && Stopwatch.GetTimestamp() < drainUntil) await Task.Delay(10, ct);
        long unfinished = workers.Sum(w => Interlocked.Read(ref w.InFlight));
        await abort.CancelAsync();
        try { await Task.WhenAll(pending.Keys).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None); } catch (Exception) { }
        await progress;
        await cpuProbe;
        double windowOps = Math.Max(1, completedAtEnd - completedAtStart);

        var latency = NewHistogram();
        var service = NewHistogram();
        var lag = NewHistogram();
        var byOp = Enumerable.Range(0, OpKinds.Count).Select(_ => NewHistogram()).ToArray();
        foreach (var w in workers)
        {
            // What completed after the progress loop's last tick belongs to the last interval.
            var rest = w.Drain();
            if (intervals.Count > 0) intervals[^1].Add(rest);
            latency.Add(w.Total);
            service.Add(w.ServiceTotal);
            lag.Add(w.LagTotal);
            for (int k = 0; k < byOp.Length; k++) byOp[k].Add(w.ByOpTotal[k]);
        }
        if (s.Progress) Console.Error.WriteLine();
        return new RunResult
        {
            Target = target.Name,
            Address = target.Address,
            Settings = s,
            Latency = latency,
            Service = service,
            SendLag = lag,
            ByOp = byOp,
            UpdatesInWindow = workers.Sum(w => w.Updates),
            Intervals = intervals,
            Sent = workers.Sum(w => w.Sent),
            Completed = workers.Sum(w => w.Completed),
            CompletedInWindow = workers.Sum(w => w.InWindow),
            Errors = workers.Sum(w => w.Errors),
            ErrorKinds = errorKinds.ToDictionary(),
            Unfinished = unfinished,
            GeneratorCpuMicrosPerOp = (genCpu1 - genCpu0).TotalMicroseconds / windowOps,
            ServerCpuMicrosPerOp = s.ServerPid > 0 ? (srvCpu1 - srvCpu0).TotalMicroseconds / windowOps : double.NaN,
        };

        async Task DelayUntil(long ticks)
        {
            long wait = ticks - Stopwatch.GetTimestamp();
            if (wait > 0) await Task.Delay(TimeSpan.FromSeconds(wait / (double)freq), CancellationToken.None);
        }

        void Dispatch(Worker w)
        {
            var rng = new Random(s.Seed * 7919 + w.Index);
            double due = start + interval * w.Index / workerCount;
            int connection = w.Index;
            while (!abort.IsCancellationRequested)
            {
                long intended = (long)due;
                if (intended >= end) break;
                due += interval;
                if (s.SleepPacing) SleepUntil(intended); else WaitUntil(intended);
                // Over the in-flight cap the send waits; its latency still counts from when it was due.
                while (Interlocked.Read(ref w.InFlight) >= s.MaxInFlight && !abort.IsCancellationRequested) Thread.Sleep(1);
                var op = new Op();
                workload.Next(rng, w.Index, op);
                long sentAt = Stopwatch.GetTimestamp();
                w.Lag.RecordValue(Micros(sentAt - intended));
                Interlocked.Increment(ref w.InFlight);
                w.Sent++;
                var task = Send(w, connection, op, intended, sentAt);
                if (!task.IsCompleted)
                {
                    pending.TryAdd(task, 0);
                    _ = task.ContinueWith(static (t, p) => ((ConcurrentDictionary<Task, byte>)p!).TryRemove(t, out _), pending, TaskScheduler.Default);
                }
                connection += workerCount;
                if (connection >= s.Connections) connection = w.Index;
            }
        }

        async Task Send(Worker w, int connection, Op op, long intended, long sentAt)
        {
            try
            {
                await target.ExecuteAsync(connection, op, abort.Token).ConfigureAwait(false);
                long done = Stopwatch.GetTimestamp();
                Interlocked.Increment(ref w.Completed);
                if (intended >= measureStart)
                {
                    long micros = Micros(done - intended);
                    w.Measured.RecordValue(micros);
                    w.ByOp[(int)op.Kind].RecordValue(micros);
                    w.Service.RecordValue(Micros(done - sentAt));
                    if (done <= end)
                    {
                        Interlocked.Increment(ref w.InWindow);
                        Interlocked.Add(ref w.Updates, workload.UpdatesOf(op));
                    }
                }
                else
                {
                    w.Warm.RecordValue(Micros(done - intended));
                }
            }
            catch (Exception ex) when (!abort.IsCancellationRequested)
            {
                if (intended >= measureStart) Interlocked.Increment(ref w.Errors);
                string kind = GrpcTarget.Classify(ex) ?? ex.GetType().Name;
                errorKinds.AddOrUpdate(kind, 1, static (_, n) => n + 1);
            }
            catch (Exception)
            {
                // Cancelled at the end of the drain: counted as unfinished.
            }
            finally
            {
                Interlocked.Decrement(ref w.InFlight);
            }
        }

        async Task ProgressLoop()
        {
            var window = NewHistogram();
            long lastCompleted = 0;
            long lastTick = Stopwatch.GetTimestamp();
            bool tty = !Console.IsErrorRedirected;
            int tick = 0;
            while (!abort.IsCancellationRequested && threads.Any(t => t.IsAlive))
            {
                try { await Task.Delay(1000, abort.Token); } catch (OperationCanceledException) { break; }
                window.Reset();
                long now = Stopwatch.GetTimestamp();
                HistogramBase? interval = null;
                if (s.IntervalSeconds > 0 && now > measureStart)
                {
                    int k = (int)((now - measureStart) / (freq * (long)s.IntervalSeconds));
                    while (intervals.Count <= k) intervals.Add(NewHistogram());
                    interval = intervals[k];
                }
                foreach (var w in workers)
                {
                    var measured = w.Drain();
                    window.Add(measured);
                    interval?.Add(measured);
                    window.Add(w.Warm.GetIntervalHistogram());
                }
                long completed = workers.Sum(w => Interlocked.Read(ref w.Completed));
                double rate = (completed - lastCompleted) * (double)freq / (now - lastTick);
                lastCompleted = completed;
                lastTick = now;
                if (!s.Progress || (!tty && ++tick % 5 != 0)) continue;
                double elapsed = (now - start) / (double)freq;
                double total = (end - start) / (double)freq;
                int width = 24;
                int filled = (int)Math.Clamp(elapsed / total * width, 0, width);
                string phase = now < measureStart ? "warm-up" : "measure";
                string p99 = window.TotalCount == 0 ? "-" : $"{window.GetValueAtPercentile(99) / 1000.0:0.000} ms";
                long inflight = workers.Sum(w => Interlocked.Read(ref w.InFlight));
                long errors = workers.Sum(w => Interlocked.Read(ref w.Errors));
                string line = $"[{new string('#', filled)}{new string('.', width - filled)}] {elapsed,5:0}/{total:0} s {phase}  rate {rate,9:N0}/s  p99 {p99}  in-flight {inflight}  errors {errors}";
                Console.Error.Write(tty ? "\r" + line.PadRight(110) : line + Environment.NewLine);
            }
        }
    }

    /// <summary>User + system CPU of this process (pid 0) or another one, from /proc; zero when unreadable.</summary>
    private static TimeSpan CpuTime(int pid)
    {
        if (pid == 0) return Process.GetCurrentProcess().TotalProcessorTime;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            long ticks = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or UnauthorizedAccessException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>Sleeps in 1 ms steps: sends go out in bursts up to ~1 ms late (counted as latency), but the core stays free.</summary>
    private static void SleepUntil(long due)
    {
        while (due - Stopwatch.GetTimestamp() > 0) Thread.Sleep(1);
    }

    /// <summary>Sleeps while the due time is far, then yields, then spins the last few microseconds.</summary>
    private static void WaitUntil(long due)
    {
        long freq = Stopwatch.Frequency;
        while (true)
        {
            long remaining = due - Stopwatch.GetTimestamp();
            if (remaining <= 0) return;
            if (remaining > freq / 500) Thread.Sleep(1);            // > 2 ms
            else if (remaining > freq / 20_000) Thread.Yield();     // > 50 µs
            else Thread.SpinWait(20);
        }
    }
}
