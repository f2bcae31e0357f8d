/**
 * The baseline of `npm run bench`: a CDK app with one empty stack, run the same way as
 * bin/app.ts, so the ratio shows what the federation app itself costs.
 */
import { App, Stack } from 'aws-cdk-lib';

const app = new App();
new Stack(app, 'BenchBaseline');
app.synth();
