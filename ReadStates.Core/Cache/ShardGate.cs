using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace ReadStates.Core.Cache;

/// <summary>
/// The shard's lock, built for the case that matters: every call on a user takes it once, for a short,
/// I/O-free critical section, and nearly always finds it free. Entering is one inlined compare-and-swap and
/// leaving one inlined exchange; <see cref="Lock"/> costs two calls and a thread-id lookup on top, for
/// recursion and ownership that these sections never need. Under contention it behaves like a lock, not a
/// spin lock: a thread that finds the gate held spins briefly (on a single core it yields at once), then
/// sleeps on a semaphore until a leaving holder wakes it, so a preempted or low-priority holder (the
/// write-behind thread runs niced) gets the core instead of waiters burning it. The protocol is the classic
/// three-state mutex (free, held, held with sleepers; U. Drepper, "Futexes Are Tricky", mutex 2): a holder
/// that leaves a gate marked "with sleepers" wakes one. Not re-entrant: a section must not enter its own
/// shard's gate again (a DEBUG build asserts it).
/// </summary>
internal sealed class ShardGate
{
    private const int Free = 0, Held = 1, HeldWithSleepers = 2;
    /// <summary>Spins (yields, on one core) before a waiter sleeps: about a microsecond of spinning on several cores.</summary>
    private const int SpinsBeforeSleeping = 10;

    private int _state;
    private SemaphoreSlim? _sleepers;
    private int _owner; // the holder's managed thread id, kept in DEBUG builds only

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Enter()
    {
        if (Interlocked.CompareExchange(ref _state, Held, Free) != Free) EnterContended();
        SetOwner();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Exit()
    {
        ClearOwner();
        if (Interlocked.Exchange(ref _state, Free) == HeldWithSleepers) WakeOne();
    }

    /// <summary>Enters the gate for a <c>using</c> block, which leaves it however the block ends.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Scope Hold()
    {
        Enter();
        return new Scope(this);
    }

    /// <summary>A held gate; disposing it leaves the gate.</summary>
    public readonly ref struct Scope(ShardGate gate)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Dispose() => gate.Exit();
    }

    /// <summary>For assertions: whether the calling thread holds the gate (always false in release builds).</summary>
    public bool IsHeldByCurrentThread => Volatile.Read(ref _state) != Free && _owner == Environment.CurrentManagedThreadId;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EnterContended()
    {
        Debug.Assert(_owner != Environment.CurrentManagedThreadId, "a shard's gate entered again by its holder");
        var spin = new SpinWait();
        while (spin.Count < SpinsBeforeSleeping)
        {
            spin.SpinOnce(sleep1Threshold: -1);
            if (Volatile.Read(ref _state) == Free && Interlocked.CompareExchange(ref _state, Held, Free) == Free) return;
        }
        // Mark the gate "held with sleepers" and sleep until a holder leaves; whoever takes it this way leaves
        // it marked, so its own exit wakes the next sleeper (at worst one wake-up too many, which re-checks).
        var sleepers = Sleepers();
        while (Interlocked.Exchange(ref _state, HeldWithSleepers) != Free) sleepers.Wait();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WakeOne() => Sleepers().Release();

    // Created by the first waiter before it marks the gate, so a holder that sees the mark finds it.
    private SemaphoreSlim Sleepers() =>
        Volatile.Read(ref _sleepers) ?? Interlocked.CompareExchange(ref _sleepers, new SemaphoreSlim(0), null) ?? _sleepers!;

    [Conditional("DEBUG")]
    private void SetOwner() => _owner = Environment.CurrentManagedThreadId;

    [Conditional("DEBUG")]
    private void ClearOwner() => _owner = 0;
}
