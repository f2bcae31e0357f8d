#!/usr/bin/env node
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { ConfigError, parseStageConfig } from '../lib/config';
import { buildStage } from '../lib/stage';

// The only place that reads context, files and the environment.
// -c stage=<name> picks config/<name>.json; -c configFile=<path> reads another file.
// aws-cdk-lib's built-in CloudFormation validation costs more than the rest of the synth
// (about 4.7 s of 6.6 s here), so it is opt-in: `npm run review` and one test in
// `npm test` turn it on with CDK_VALIDATION=true.
const app = new App({ builtinCloudFormationValidation: process.env.CDK_VALIDATION === 'true' });
const stage = String(app.node.tryGetContext('stage') ?? 'example');
const configDir = path.join(__dirname, '..', 'config');
const file = path.resolve(
  String(app.node.tryGetContext('configFile') ?? path.join(configDir, `${stage}.json`)),
);

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

if (!fs.existsSync(file)) {
  const known = fs
    .readdirSync(configDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.replace(/\.json$/, ''));
  fail(
    `No config for stage "${stage}": ${file} does not exist. Known stages: ${known.join(', ')}. ` +
      'Pick one with -c stage=<name>, or copy config/example.json to config/<name>.json.',
  );
}
let raw: unknown;
try {
  raw = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (e) {
  fail(`${path.relative(process.cwd(), file)} is not valid JSON: ${(e as Error).message}`);
}
try {
  buildStage(app, parseStageConfig(stage, raw, path.relative(process.cwd(), file)));
} catch (e) {
  if (e instanceof ConfigError) fail(e.message);
  throw e;
}
app.synth();
