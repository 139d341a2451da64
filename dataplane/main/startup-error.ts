/** A setting the process cannot start with; the CLI prints it with its usage hint and exits 2. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** Runs an environment parser; what it refuses is a setting to fix, not a crash to debug. */
export function asStartupError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
}
