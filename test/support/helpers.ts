import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parseStageConfig, RawStageConfig, StageConfig } from '../../lib/config';
import { FederationStack } from '../../lib/federation-stack';
import { buildStage } from '../../lib/stage';
import { cdkFeatureFlags } from '../../local/feature-flags';

/** The checked-in example config, as raw JSON (a fresh copy each call). */
export function exampleRawConfig(): RawStageConfig {
  return JSON.parse(
    fs.readFileSync(path.join(__dirname, '..', '..', 'config', 'example.json'), 'utf8'),
  );
}

/** A config with real-looking (non-placeholder) ids for every provider family. */
export function testRawConfig(overrides: Partial<RawStageConfig> = {}): RawStageConfig {
  return {
    env: { account: '123456789012', region: 'eu-west-1' },
    providers: [
      { type: 'amazon', appId: 'amzn1.application-oa2-client.0123456789abcdef0123456789abcdef' },
      { type: 'google', clientIds: ['123456789012-abcdefghijklmnop.apps.googleusercontent.com'] },
      { type: 'facebook', appId: '1234567890123456' },
      {
        type: 'oidc',
        name: 'cognito',
        issuerUrl: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123',
        clientIds: ['1example23456789abcdefghij'],
      },
    ],
    app: { origins: ['https://files.example.com'] },
    ...overrides,
  };
}

export function testConfig(overrides: Partial<RawStageConfig> = {}, stage = 'test'): StageConfig {
  return parseStageConfig(stage, testRawConfig(overrides));
}

/**
 * Context that skips asset bundling in every stack (aws-cdk-lib reads it in
 * `Stack.bundlingRequired`): the function's asset is then the unbundled project root with
 * a hash derived from the construct path, so unit tests need no esbuild run. One test in
 * test/callback-app.test.ts bundles for real.
 */
export const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] as string[] };

/** A fresh app for unit tests: no bundling, no CloudFormation validation plugin. */
export function testApp(): App {
  return new App({
    builtinCloudFormationValidation: false,
    context: { ...cdkFeatureFlags(), ...SKIP_BUNDLING },
  });
}

/** Builds the stage into a fresh app (no bundling, no CloudFormation validation plugin). */
export function buildTestStack(config: StageConfig = testConfig()): {
  app: App;
  stack: FederationStack;
} {
  const app = testApp();
  const { federation } = buildStage(app, config);
  return { app, stack: federation };
}

/** The synthesized federation template of a config. */
export function synthTemplate(config: StageConfig = testConfig()): Template {
  return Template.fromStack(buildTestStack(config).stack);
}
