import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The feature flags in cdk.json's context: the recommended flags of the pinned aws-cdk-lib.
 * The CDK CLI passes them to bin/app.ts; apps built in-process (the sandbox, the tests,
 * the bench) take them from here, so they synthesize what `cdk deploy` would.
 */
export function cdkFeatureFlags(): Record<string, unknown> {
  const file = path.join(__dirname, '..', 'cdk.json');
  const context = (JSON.parse(fs.readFileSync(file, 'utf8')) as { context?: object }).context;
  return Object.fromEntries(Object.entries(context ?? {}).filter(([key]) => key.startsWith('@')));
}
