import { parseArgs, USAGE } from './args';
import { run } from './commands';
import { type CliDeps, defaultDeps } from './deps';
import { CliError } from './errors';

/**
 * Runs `wif-login` with `argv` (the arguments after the script) and resolves with the
 * exit code: 0 done, 1 failed, 2 wrong command line. Never throws and never exits the
 * process: messages go to `deps.stderr`, and only machine-readable output (credentials
 * JSON, whoami) to `deps.stdout`. Tests pass `deps`; the entry passes its own location.
 */
export async function main(argv: readonly string[], deps: Partial<CliDeps> = {}): Promise<number> {
  const full = defaultDeps(deps);
  try {
    const parsed = parseArgs(argv, full.cwd);
    if (parsed.kind === 'help') {
      full.stdout(USAGE);
      return 0;
    }
    return await run(parsed.command, { options: parsed.options, deps: full });
  } catch (error) {
    if (error instanceof CliError) {
      full.stderr(`wif-login: ${error.message}\n`);
      return error.exitCode;
    }
    // A bug, not a user error: say so, without the stack's local values.
    full.stderr(
      `wif-login: unexpected error: ${(error as Error)?.message ?? String(error)}. Please report it.\n`,
    );
    return 1;
  }
}
