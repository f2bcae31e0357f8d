import { SANDBOX_ACCOUNT } from '../../local/sandbox-config';

/** A customer managed policy the tests add to the sandbox template: s3:GetObject anywhere. */
export const READ_ONLY_SESSION_POLICY_ARN = `arn:aws:iam::${SANDBOX_ACCOUNT}:policy/ReadOnlySessionPolicy`;

/**
 * The template with `ReadOnlySessionPolicy` added, attached to no role: the kind of
 * managed policy a client names in `PolicyArns` to narrow its session.
 */
export function withManagedSessionPolicy<T extends Record<string, unknown>>(template: T): T {
  const resources = template.Resources as Record<string, unknown>;
  resources.ReadOnlySessionPolicy = {
    Type: 'AWS::IAM::ManagedPolicy',
    Properties: {
      ManagedPolicyName: 'ReadOnlySessionPolicy',
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
      },
    },
  };
  return template;
}
