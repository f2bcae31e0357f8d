import { isServiceUnavailable } from '../../lambda/callback/responses';
import { isExpiredCredentials } from '../../lambda/callback/session';

/** An AWS SDK v3 service error as the clients throw it. */
const sdkError = (name: string, status: number) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe('isServiceUnavailable: "try again in a moment" rather than a 500 (dependency-busy-503)', () => {
  test.each([
    ['S3 SlowDown', sdkError('SlowDown', 503)],
    ['S3 InternalError', sdkError('InternalError', 500)],
    ['any 5xx', sdkError('Whatever', 502)],
    ['Secrets Manager throttling (a 400)', sdkError('ThrottlingException', 400)],
    ['a refused connection', Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })],
  ])('%s', (_, err) => {
    expect(isServiceUnavailable(err)).toBe(true);
  });

  test.each([
    ['AccessDenied', sdkError('AccessDenied', 403)],
    ['NoSuchKey', sdkError('NoSuchKey', 404)],
    ['a plain bug', new TypeError('x is undefined')],
    ['not an error', undefined],
  ])('not %s', (_, err) => {
    expect(isServiceUnavailable(err)).toBe(false);
  });
});

describe('isExpiredCredentials: the user signs in again (dependency-busy-503)', () => {
  test.each(['ExpiredToken', 'InvalidAccessKeyId', 'InvalidToken'])('%s', (name) => {
    expect(isExpiredCredentials(sdkError(name, 403))).toBe(true);
  });

  test("not AccessDenied: that is another user's file, not an ended session", () => {
    expect(isExpiredCredentials(sdkError('AccessDenied', 403))).toBe(false);
  });
});
