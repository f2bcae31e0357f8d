import { App } from 'aws-cdk-lib';
import { StageConfig } from './config';
import { CallbackAppBuildOptions, FederationStack } from './federation-stack';

/** The stacks of one stage. */
export interface StageStacks {
  readonly federation: FederationStack;
}

/** The stack name of a stage's federation stack. */
export const federationStackName = (stage: string): string => `WebIdFederation-${stage}`;

/** How to build a stage beyond its config (tests, the sandbox). */
export interface BuildStageOptions {
  /**
   * How the callback app's function is built.
   * @default - lambda/callback/handler.ts with the default bundling
   */
  readonly callbackApp?: CallbackAppBuildOptions;
}

/** Builds every stack of a stage into `app`. */
export function buildStage(
  app: App,
  config: StageConfig,
  options: BuildStageOptions = {},
): StageStacks {
  const env =
    config.env.account || config.env.region
      ? { account: config.env.account, region: config.env.region }
      : undefined;
  const federation = new FederationStack(app, federationStackName(config.stage), {
    config,
    callbackApp: options.callbackApp,
    env,
    description: `Web identity federation (${config.stage}): per-user S3 storage for ${config.providers
      .map((p) => p.provider.displayName)
      .join(', ')} users`,
  });
  return { federation };
}
