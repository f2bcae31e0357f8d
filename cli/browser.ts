import { spawn } from 'node:child_process';

/** The program and arguments that open `url` in a browser, or undefined for none. */
export function browserCommand(
  url: string,
  env: Readonly<Record<string, string | undefined>>,
  platform: NodeJS.Platform,
): { command: string; args: string[]; verbatim: boolean } | undefined {
  const chosen = env.BROWSER?.trim();
  if (chosen === 'none') return undefined;
  if (chosen) return { command: chosen, args: [url], verbatim: false };
  if (platform === 'darwin') return { command: 'open', args: [url], verbatim: false };
  if (platform === 'win32') {
    // `start` is a cmd built-in: the empty title keeps a quoted URL from becoming the
    // title, and cmd's own metacharacters (the URL's `&`) are escaped with `^`.
    const escaped = url.replace(/[&^|<>()%!"]/g, '^$&');
    return { command: 'cmd', args: ['/c', 'start', '""', escaped], verbatim: true };
  }
  return { command: 'xdg-open', args: [url], verbatim: false };
}

/**
 * Opens `url` in the user's browser and returns at once. `BROWSER` names the program to
 * use (`none`: open nothing); otherwise the platform's opener. Failures are ignored: the
 * caller always prints the URL, so the user can open it by hand.
 */
export function launchBrowser(
  url: string,
  env: Readonly<Record<string, string | undefined>>,
  platform: NodeJS.Platform,
): void {
  const chosen = browserCommand(url, env, platform);
  if (!chosen) return;
  try {
    const child = spawn(chosen.command, chosen.args, {
      detached: true,
      stdio: 'ignore',
      windowsVerbatimArguments: chosen.verbatim,
    });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // No opener installed: the URL printed on stderr is the fallback.
  }
}
