import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeQuietly } from './cache';
import type { CliDeps } from './deps';
import { CliError } from './errors';

/** One `[...]` section of the AWS config file: its name inside the brackets, and its lines. */
export interface ConfigSection {
  /** As the file spells it, whitespace collapsed: `profile wif-google`, `default`. */
  readonly name: string;
  /** The section's lines, the header first, without line ends. */
  readonly lines: readonly string[];
}

/** What `configure` writes for one profile. */
export interface ProfileSpec {
  readonly name: string;
  readonly region: string;
  /** The whole `credential_process` value. */
  readonly credentialProcess: string;
  /** The sandbox's S3 endpoint; adds a services section. */
  readonly s3Endpoint?: string;
  /** Absolute path of the sandbox's CA, written as `ca_bundle` (with `s3Endpoint` only). */
  readonly caBundle?: string;
}

/** The AWS config file: `AWS_CONFIG_FILE` (a leading `~/` is the home), else `~/.aws/config`. */
export function awsConfigPath(deps: Pick<CliDeps, 'env' | 'homedir' | 'cwd'>): string {
  const own = deps.env.AWS_CONFIG_FILE;
  if (!own) return path.join(deps.homedir, '.aws', 'config');
  if (own === '~' || own.startsWith('~/')) return path.join(deps.homedir, own.slice(1));
  return path.resolve(deps.cwd, own);
}

/**
 * A path as one `credential_process` word, in double quotes: the AWS CLI splits the value
 * like a shell, and the JavaScript SDK runs it through one. Refuses characters that a
 * shell would still interpret inside double quotes.
 */
export function quotePath(file: string, platform: NodeJS.Platform): string {
  const bad = platform === 'win32' ? /["\r\n%]/ : /["\r\n$`\\]/;
  if (bad.test(file)) {
    throw new CliError(
      `The path ${JSON.stringify(file)} has a character that credential_process cannot carry (" $ \` \\ or a line break); move the file to a plainer path and run configure again.`,
    );
  }
  return `"${file}"`;
}

/**
 * The `credential_process` value: node, this command, `credentials` and its options:
 * `"<node>" "<command>" credentials --endpoint <origin> [--provider <p>] [--ca "<file>"] [--no-browser]`.
 */
export function credentialProcessLine(args: {
  readonly execPath: string;
  readonly commandPath: string;
  readonly endpoint: string;
  readonly provider?: string;
  readonly caPath?: string;
  /** Paste mode for the sign-ins `credentials` runs by itself (a computer without a browser). */
  readonly noBrowser?: boolean;
  readonly platform: NodeJS.Platform;
}): string {
  const words = [
    quotePath(args.execPath, args.platform),
    quotePath(args.commandPath, args.platform),
    'credentials',
    '--endpoint',
    args.endpoint,
  ];
  if (args.provider !== undefined) words.push('--provider', args.provider);
  if (args.caPath !== undefined) words.push('--ca', quotePath(args.caPath, args.platform));
  if (args.noBrowser) words.push('--no-browser');
  return words.join(' ');
}

/** The sections for `spec`: the profile, and for the sandbox its S3 services section. */
export function profileSections(spec: ProfileSpec): ConfigSection[] {
  const servicesName = `${spec.name}-services`;
  const profile = [
    spec.name === 'default' ? '[default]' : `[profile ${spec.name}]`,
    `region = ${spec.region}`,
    `credential_process = ${spec.credentialProcess}`,
  ];
  if (spec.s3Endpoint === undefined) {
    return [{ name: spec.name === 'default' ? 'default' : `profile ${spec.name}`, lines: profile }];
  }
  if (spec.caBundle !== undefined) profile.push(`ca_bundle = ${spec.caBundle}`);
  profile.push(`services = ${servicesName}`);
  return [
    { name: spec.name === 'default' ? 'default' : `profile ${spec.name}`, lines: profile },
    {
      name: `services ${servicesName}`,
      lines: [
        `[services ${servicesName}]`,
        's3 =',
        `  endpoint_url = ${spec.s3Endpoint}`,
        '  addressing_style = path',
      ],
    },
  ];
}

/** The section name of a header line (`[ profile  x ]` → `profile x`), or undefined. */
function headerName(line: string): string | undefined {
  const match = /^\s*\[([^\]]*)\]\s*(?:[#;].*)?$/.exec(line.replace(/\r$/, ''));
  return match ? match[1].trim().replace(/\s+/g, ' ') : undefined;
}

const isBlankOrComment = (line: string): boolean =>
  /^\s*(?:[#;].*)?$/.test(line.replace(/\r$/, ''));

/**
 * Puts `sections` into the config text: a section of the same name is replaced where it
 * stands (further copies are dropped), others are appended. Every other line, comments
 * included, stays byte for byte, as do the blank and comment lines that end a replaced
 * section (they usually introduce the next one). Keeps the file's CRLF line ends if it
 * has them.
 */
export function upsertSections(text: string, sections: readonly ConfigSection[]): string {
  const eol = text.includes('\r\n') ? '\r' : '';
  const lines = text === '' ? [] : text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  const pending = new Map(sections.map((s) => [s.name, s]));
  const ours = new Set(pending.keys());
  const headers = lines.flatMap((line, i) => (headerName(line) === undefined ? [] : [i]));
  const out = lines.slice(0, headers[0] ?? lines.length);
  headers.forEach((start, k) => {
    const next = headers[k + 1] ?? lines.length;
    const name = headerName(lines[start]) as string;
    if (!ours.has(name)) {
      out.push(...lines.slice(start, next));
      return;
    }
    let end = next;
    while (end > start + 1 && isBlankOrComment(lines[end - 1])) end--;
    const section = pending.get(name);
    if (section) out.push(...section.lines.map((line) => line + eol));
    pending.delete(name);
    out.push(...lines.slice(end, next));
  });
  for (const section of pending.values()) {
    if (out.length > 0 && out[out.length - 1].trim() !== '') out.push(eol);
    out.push(...section.lines.map((line) => line + eol));
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/**
 * Writes the config file through a temporary file and a rename, keeping an existing file's
 * permissions (and following a symlink to it); a new file is created 0600 in a 0700
 * directory.
 */
export function writeConfigFile(file: string, text: string, platform: NodeJS.Platform): void {
  let target = file;
  let mode = 0o600;
  const temp = () =>
    path.join(path.dirname(target), `.config.${randomBytes(6).toString('hex')}.tmp`);
  let tempFile = '';
  try {
    if (fs.existsSync(file)) {
      target = fs.realpathSync(file);
      mode = fs.statSync(target).mode & 0o777;
    } else {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    }
    tempFile = temp();
    fs.writeFileSync(tempFile, text, { mode, flag: 'wx' });
    if (platform !== 'win32') fs.chmodSync(tempFile, mode);
    fs.renameSync(tempFile, target);
  } catch (error) {
    if (tempFile) removeQuietly(tempFile);
    throw new CliError(
      `Cannot write the AWS config file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); set AWS_CONFIG_FILE to a file you can write.`,
    );
  }
}
