import { App } from 'aws-cdk-lib';
import { StageConfig } from './config';
import { FederationStack } from './federation-stack';

/** The stacks of one stage. */
export interface StageStacks {
  readonly federation: FederationStack;
}

/** The stack name of a stage's federation stack. */
export const federationStackName = (stage: string): string => `WebIdFederation-${stage}`;

/** Builds every stack of a stage into `app`. */
export function buildStage(app: App, config: StageConfig): StageStacks {
  const env =
    config.env.account || config.env.region
      ? { account: config.env.account, region: config.env.region }
      : undefined;
  const federation = new FederationStack(app, federationStackName(config.stage), {
    config,
    env,
    description: `Web identity federation (${config.stage}): per-user S3 storage for ${config.providers
      .map((p) => p.provider.displayName)
      .join(', ')} users`,
  });
  return { federation };
}
