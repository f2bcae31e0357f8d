/**
 * A failure the user can act on: its message is shown as is (never a stack trace), and
 * `exitCode` is 2 for a wrong command line, 1 for everything else.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
