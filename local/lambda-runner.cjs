// Runs the Lambda bundle from the cloud assembly in its own Node process, like the
// Lambda runtime: environment fixed at start, one handler, events in, results out (IPC).
// Each event comes with its deadline (ms since the epoch), which the context reports as
// the remaining time, as Lambda's does; the parent abandons the invocation at it.
'use strict';
const { handler } = require(process.env.LAMBDA_BUNDLE);

process.on('message', (message) => {
  const { id, event, deadline } = message;
  const context = {
    awsRequestId: event.requestContext.requestId,
    functionName: 'local-callback',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  Promise.resolve()
    .then(() => handler(event, context))
    .then(
      (result) => process.send({ id, result }),
      (err) => process.send({ id, error: err && err.stack ? err.stack : String(err) }),
    );
});
process.send({ ready: true });
