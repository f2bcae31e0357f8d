#!/usr/bin/env node
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { ConfigError, parseStageConfig } from '../lib/config';
import { buildStage } from '../lib/stage';

// The only place that reads context, files and the environment.
const app = new App();
const stage = String(app.node.tryGetContext('stage') ?? 'example');
const file = path.join(__dirname, '..', 'config', `${stage}.json`);
if (!fs.existsSync(file)) {
  const known = fs
    .readdirSync(path.join(__dirname, '..', 'config'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.replace(/\.json$/, ''));
  console.error(
    `No config for stage "${stage}": ${file} does not exist. Known stages: ${known.join(', ')}. Pick one with -c stage=<name>.`,
  );
  process.exit(1);
}
let raw: unknown;
try {
  raw = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`config/${stage}.json is not valid JSON: ${(e as Error).message}`);
  process.exit(1);
}
try {
  buildStage(app, parseStageConfig(stage, raw));
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
app.synth();
