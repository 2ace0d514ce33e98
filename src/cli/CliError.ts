/**
 * A mistake in how the CLI was called: its message says what was expected, what came and
 * what to do, and the CLI prints it without a stack trace and exits 1.
 */
export class CliError extends Error {
  override name = 'CliError';
}
