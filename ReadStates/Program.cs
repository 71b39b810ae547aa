using ReadStates.Hosting;

// `ReadStates probe …` asks a running service's health and exits; it never starts one.
if (args.Length > 0 && args[0] == HealthProbe.Command)
    return await HealthProbe.RunAsync(args[1..], Console.Out, Console.Error);
return await ReadStatesHost.RunAsync(args);
