/**
 * The integration test app for a real AWS account (how to run it: integ/README.md).
 *
 * Two stacks, deployed in this order by integ/run-integ.ts:
 *
 * 1. `WebIdFederation-integ-idp`: a Cognito user pool and an app client, the OpenID
 *    Connect issuer of the test users.
 * 2. `WebIdFederation-integ`: the federation core (the same `UserDataBucket`,
 *    `WebIdentityRole` and `addFederationGuards` the product uses) trusting that pool
 *    through `Provider.cognitoUserPool`, built from the pool id and client id of phase 1
 *    passed as context: `-c integ:userPoolId=<id> -c integ:userPoolClientId=<id>`.
 *
 * Why not one stack: IAM names an OIDC provider's condition keys after its issuer
 * (`cognito-idp.<region>.amazonaws.com/<pool id>:aud`, `${...:sub}`) and CloudFormation
 * cannot resolve a token inside a JSON key, so the trust policy needs the pool id as a
 * literal at synth time. Cognito generates the id when the pool is created.
 *
 * Without that context the app holds only the issuer stack (phase 1).
 */
import { App, Aws, CfnOutput, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { addFederationGuards } from '../lib/guards';
import { Provider } from '../lib/providers';
import { UserDataBucket } from '../lib/user-data-bucket';
import { WebIdentityRole } from '../lib/web-identity-role';

/** The issuer stack (phase 1). */
export const INTEG_IDP_STACK_NAME = 'WebIdFederation-integ-idp';
/** The federation stack under test (phase 2). */
export const INTEG_STACK_NAME = 'WebIdFederation-integ';
/** Context key of the user pool id the federation stack trusts. */
export const USER_POOL_ID_CONTEXT = 'integ:userPoolId';
/** Context key of the app client id (the ID tokens' audience). */
export const CLIENT_ID_CONTEXT = 'integ:userPoolClientId';
/** The provider name, hence the bucket namespace `users/cognito/<sub>/`. */
export const INTEG_PROVIDER_NAME = 'cognito';

/** A Cognito user pool whose users sign in with a username and password, no secret. */
export class IntegIdpStack extends Stack {
  /** The user pool (the OIDC issuer). */
  public readonly userPool: cognito.UserPool;
  /** The app client; its id is the ID tokens' `aud`. */
  public readonly client: cognito.UserPoolClient;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    this.userPool = new cognito.UserPool(this, 'UserPool', {
      // Only the runner creates users (AdminCreateUser); nobody can sign up to it.
      selfSignUpEnabled: false,
      signInAliases: { username: true },
      accountRecovery: cognito.AccountRecovery.NONE,
      mfa: cognito.Mfa.OFF,
      // Username/password sign-in is all the test needs; Lite is the cheapest plan.
      featurePlan: cognito.FeaturePlan.LITE,
      deletionProtection: false,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.client = this.userPool.addClient('Client', {
      // USER_PASSWORD_AUTH lets the runner sign in with InitiateAuth, without a browser.
      authFlows: { userPassword: true },
      // A public client, like the browser and mobile apps of the product.
      generateSecret: false,
      disableOAuth: true,
      preventUserExistenceErrors: true,
    });

    new CfnOutput(this, 'UserPoolId', {
      description: `The user pool; pass it to the federation stack as -c ${USER_POOL_ID_CONTEXT}=<id>`,
      value: this.userPool.userPoolId,
    });
    new CfnOutput(this, 'UserPoolClientId', {
      description: `The app client (the ID tokens' aud); pass it as -c ${CLIENT_ID_CONTEXT}=<id>`,
      value: this.client.userPoolClientId,
    });
    new CfnOutput(this, 'IssuerUrl', {
      description: "The ID tokens' iss",
      value: this.userPool.userPoolProviderUrl,
    });
    new CfnOutput(this, 'Region', { description: 'Region of the user pool', value: Aws.REGION });
  }
}

export interface IntegFederationStackProps extends StackProps {
  /** The user pool to trust, `<region>_<id>` (a literal: see the file comment). */
  readonly userPoolId: string;
  /** The app client id of that pool, the only accepted audience. */
  readonly clientId: string;
}

/**
 * The federation core for one Cognito user pool: the user data bucket (deleted with the
 * stack; the runner empties it first) and the pool's web identity role, under the same
 * synth-time guards as `FederationStack`. No callback app: the runner plays the client
 * and calls STS and S3 itself, which is what the roles and the bucket are for.
 */
export class IntegFederationStack extends Stack {
  /** The trusted provider. */
  public readonly provider: Provider;
  /** The user data bucket and its log bucket. */
  public readonly userData: UserDataBucket;
  /** The web identity role of the pool's users. */
  public readonly role: WebIdentityRole;

  constructor(scope: Construct, id: string, props: IntegFederationStackProps) {
    super(scope, id, props);
    this.provider = Provider.cognitoUserPool({
      name: INTEG_PROVIDER_NAME,
      userPoolId: props.userPoolId,
      clientIds: [props.clientId],
    });
    this.userData = new UserDataBucket(this, 'UserData', { destroyOnDelete: true });
    // The construct id FederationStack gives the role of a provider named "cognito".
    this.role = new WebIdentityRole(this, 'CognitoUsers', {
      provider: this.provider,
      bucket: this.userData.bucket,
    });

    const outputs: Record<string, { description: string; value: string }> = {
      RoleArn: {
        description: 'Role the pool users assume with AssumeRoleWithWebIdentity',
        value: this.role.role.roleArn,
      },
      BucketName: { description: 'The user data bucket', value: this.userData.bucket.bucketName },
      LogBucketName: {
        description: 'The access log bucket (emptied before the stack is destroyed)',
        value: this.userData.logBucket.bucketName,
      },
      PrefixTemplate: {
        description: "Each user's prefix; the variable is their sub",
        value: this.provider.prefixTemplate,
      },
      IssuerUrl: { description: 'The trusted issuer', value: this.provider.issuerUrl! },
      UserPoolId: { description: 'The trusted user pool', value: props.userPoolId },
      UserPoolClientId: { description: 'The accepted audience', value: props.clientId },
      Region: { description: 'Region of the bucket and roles', value: Aws.REGION },
    };
    for (const [name, output] of Object.entries(outputs)) new CfnOutput(this, name, output);

    addFederationGuards(this);
  }
}

/** The pool the federation stack trusts. */
export interface IntegIds {
  readonly userPoolId: string;
  readonly clientId: string;
}

/** The stacks of the integ app; `federation` only once the pool's ids are known. */
export interface IntegStacks {
  readonly idp: IntegIdpStack;
  readonly federation?: IntegFederationStack;
}

/** Builds the integ app's stacks into `app`. */
export function buildIntegApp(app: App, ids?: IntegIds): IntegStacks {
  const idp = new IntegIdpStack(app, INTEG_IDP_STACK_NAME, {
    description: 'Web identity federation integration test: the Cognito user pool (issuer)',
  });
  const federation =
    ids &&
    new IntegFederationStack(app, INTEG_STACK_NAME, {
      ...ids,
      description: 'Web identity federation integration test: per-user S3 storage for a pool',
    });
  return { idp, federation };
}

/** The pool ids from the app's context: both or neither. */
export function integIdsFromContext(app: App): IntegIds | undefined {
  const userPoolId: unknown = app.node.tryGetContext(USER_POOL_ID_CONTEXT);
  const clientId: unknown = app.node.tryGetContext(CLIENT_ID_CONTEXT);
  if (userPoolId === undefined && clientId === undefined) return undefined;
  if (typeof userPoolId !== 'string' || typeof clientId !== 'string') {
    throw new Error(
      `Pass both -c ${USER_POOL_ID_CONTEXT}=<user pool id> and -c ${CLIENT_ID_CONTEXT}=<app client id> ` +
        `(the outputs of ${INTEG_IDP_STACK_NAME}), got ${JSON.stringify({ userPoolId, clientId })}.`,
    );
  }
  return { userPoolId, clientId };
}

if (require.main === module) {
  const app = new App();
  buildIntegApp(app, integIdsFromContext(app));
  app.synth();
}
