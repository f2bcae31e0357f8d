import * as fs from 'node:fs';
import * as readline from 'node:readline';
import * as tty from 'node:tty';
import { CliError } from './errors';

/**
 * Shows `prompt` on `output` and resolves with the next line read from `input`, trimmed.
 * On a terminal, readline switches it to raw mode, so lines longer than the terminal's own
 * line buffer (4 KB on Linux) can be pasted. Ctrl-C and end of input reject.
 */
export function readLine(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  prompt: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const terminal = Boolean((input as tty.ReadStream).isTTY);
    const rl = readline.createInterface({ input, output, terminal, crlfDelay: Infinity });
    let done = false;
    const finish = (error: Error | undefined, line?: string) => {
      if (done) return;
      done = true;
      rl.close();
      if (error) reject(error);
      else resolve((line ?? '').trim());
    };
    rl.on('line', (line) => finish(undefined, line));
    rl.on('SIGINT', () => finish(new CliError('Cancelled.')));
    rl.on('close', () => finish(new CliError('No code was entered (end of input).')));
    rl.setPrompt(prompt);
    rl.prompt();
  });
}

/** This computer's terminal as a stream pair, when there is one (not on Windows, not in CI). */
function openTerminal(): { input: tty.ReadStream; output: tty.WriteStream } | undefined {
  let inFd: number | undefined;
  try {
    inFd = fs.openSync('/dev/tty', 'r');
    const outFd = fs.openSync('/dev/tty', 'w');
    return { input: new tty.ReadStream(inFd), output: new tty.WriteStream(outFd) };
  } catch {
    if (inFd !== undefined) fs.closeSync(inFd);
    return undefined;
  }
}

/**
 * Reads the code the user pastes in paste mode (`--no-browser`). From standard input when
 * it is a terminal; otherwise (`credential_process` runs the command with its own standard
 * input) from the controlling terminal, `/dev/tty`. With no terminal at all (a script, CI),
 * from standard input as it is: a piped code works, an empty one fails with a message that
 * says to sign in beforehand.
 */
export async function readCodeFromTerminal(
  prompt: string,
  platform: NodeJS.Platform,
): Promise<string> {
  const terminal = process.stdin.isTTY || platform === 'win32' ? undefined : openTerminal();
  if (!terminal) {
    try {
      return await readLine(process.stdin, process.stderr, prompt);
    } catch (err) {
      if (process.stdin.isTTY || !(err instanceof CliError)) throw err;
      throw new CliError(
        'There is no terminal to paste the sign-in code into, and none came on standard input. ' +
          'Sign in first from a terminal with `wif-login login --no-browser --endpoint <url>`, ' +
          'or drop --no-browser to sign in through a browser on this computer.',
      );
    } finally {
      process.stdin.pause();
    }
  }
  try {
    return await readLine(terminal.input, terminal.output, prompt);
  } finally {
    terminal.input.destroy();
    terminal.output.destroy();
  }
}

/**
 * Writes `text` to the controlling terminal when standard error is not one: `credential_process`
 * callers (the AWS CLI and SDKs) capture standard error, and the user must still see the
 * sign-in URL. Does nothing when there is no terminal.
 */
export function showOnTerminal(text: string, platform: NodeJS.Platform): void {
  if (process.stderr.isTTY || platform === 'win32') return;
  try {
    fs.appendFileSync('/dev/tty', text);
  } catch {
    // No controlling terminal (CI, a service): standard error is all there is.
  }
}
