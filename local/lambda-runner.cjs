// Runs the Lambda bundle from the cloud assembly in its own Node process, like the
// Lambda runtime: environment fixed at start, one handler, events in, results out (IPC).
'use strict';
const { handler } = require(process.env.LAMBDA_BUNDLE);

process.on('message', (message) => {
  const { id, event } = message;
  Promise.resolve()
    .then(() => handler(event, { awsRequestId: event.requestContext.requestId }))
    .then(
      (result) => process.send({ id, result }),
      (err) => process.send({ id, error: err && err.stack ? err.stack : String(err) }),
    );
});
process.send({ ready: true });
