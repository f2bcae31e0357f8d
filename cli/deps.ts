import * as os from 'node:os';
import { launchBrowser } from './browser';
import { readCodeFromTerminal, showOnTerminal } from './prompt';

/**
 * Everything the command takes from its surroundings: output streams, environment, clock,
 * browser, terminal and its own location. `main` fills in the real ones; tests pass their
 * own so that no test opens a browser, reads a terminal or waits for real time.
 */
export interface CliDeps {
  /** Writes to standard output: only what a caller parses (credentials JSON, whoami). */
  readonly stdout: (text: string) => void;
  /** Writes to standard error: prompts, progress and messages for the user. */
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Milliseconds since the epoch; every expiry decision goes through it. */
  readonly now: () => number;
  readonly platform: NodeJS.Platform;
  readonly homedir: string;
  /** Relative `--ca` paths are resolved against it. */
  readonly cwd: string;
  /** The Node binary that `credential_process` runs (configure). */
  readonly execPath: string;
  /** The running command file (the bundled `.cjs`, or `.ts` from source). */
  readonly commandPath: string;
  /** Opens the sign-in URL in a browser; must not throw and must not wait for the browser. */
  readonly openBrowser: (url: string) => void;
  /**
   * Shows a line on the user's terminal when standard error does not reach it (it is
   * captured under `credential_process`); used for the sign-in URL only.
   */
  readonly showOnTerminal: (text: string) => void;
  /** Shows `prompt` on the terminal and resolves with the line the user typed or pasted. */
  readonly readCode: (prompt: string) => Promise<string>;
  /** How long the loopback server waits for the browser (5 minutes). */
  readonly loopbackTimeoutMs: number;
  /** How long the token request may take (30 seconds). */
  readonly tokenTimeoutMs: number;
}

/** How long the loopback server waits for the sign-in to come back. */
export const LOOPBACK_TIMEOUT_MS = 5 * 60_000;
/** How long `POST /cli/token` may take. */
export const TOKEN_TIMEOUT_MS = 30_000;

/** The real surroundings, with `overrides` taking precedence. */
export function defaultDeps(overrides: Partial<CliDeps> = {}): CliDeps {
  const env = overrides.env ?? process.env;
  const platform = overrides.platform ?? process.platform;
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    now: Date.now,
    homedir: os.homedir(),
    cwd: process.cwd(),
    execPath: process.execPath,
    commandPath: process.argv[1] ?? '',
    openBrowser: (url) => launchBrowser(url, env, platform),
    showOnTerminal: (text) => showOnTerminal(text, platform),
    readCode: (prompt) => readCodeFromTerminal(prompt, platform),
    loopbackTimeoutMs: LOOPBACK_TIMEOUT_MS,
    tokenTimeoutMs: TOKEN_TIMEOUT_MS,
    ...overrides,
    env,
    platform,
  };
}
