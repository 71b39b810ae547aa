return await ReadStates.Hosting.ReadStatesHost.RunAsync(args);
