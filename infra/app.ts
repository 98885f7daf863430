/**
 * The CDK app: the only place that reads context (`-c key=value` or cdk.json);
 * everything below receives typed props.
 *
 *   npx cdk synth                                   normal mode, offline
 *   npx cdk deploy -c demo=true                     VPC + ALB + nginx target + analyzer
 *   npx cdk deploy -c instanceRoleNames=web-role -c alarmEmail=ops@example.com \
 *     -c loadBalancer=app/shop/50dc6c495c0c9188 -c targetGroup=targetgroup/web/73e2d6bc24d8a067
 *
 * Context keys: see CONTEXT_KEYS and docs/deploy.md.
 */
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { TrafficAnalyzerStack, type TrafficAnalyzerStackProps } from './stack.js';

export const CONTEXT_KEYS = [
  'stackName',
  'demo',
  'instanceRoleNames',
  'ssmTargetKey',
  'ssmTargetValues',
  'alarmEmail',
  'alarmTopicArn',
  'loadBalancer',
  'targetGroup',
  'logGroupName',
  'metricsNamespace',
  'interface',
  'sample',
  'nag',
] as const;

type Ctx = (key: (typeof CONTEXT_KEYS)[number]) => string | undefined;

function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return items.length ? items : undefined;
}

function bool(key: string, v: string | undefined): boolean {
  if (v === undefined || v === '' || v === 'false') return false;
  if (v === 'true') return true;
  throw new Error(`context ${key}: "${v}" is not true or false`);
}

/** Context → stack props. Pure, for tests. */
export function propsFromContext(ctx: Ctx): TrafficAnalyzerStackProps & { stackName: string; nag: boolean } {
  const sampleText = ctx('sample');
  const sample = sampleText === undefined ? undefined : Number(sampleText);
  const ssmKey = ctx('ssmTargetKey');
  const ssmValues = list(ctx('ssmTargetValues'));
  if ((ssmKey === undefined) !== (ssmValues === undefined)) {
    throw new Error('context ssmTargetKey and ssmTargetValues go together (e.g. -c ssmTargetKey=tag:aws:autoscaling:groupName -c ssmTargetValues=web-asg)');
  }
  const opt = <K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } => (v === undefined ? {} : ({ [k]: v } as { [P in K]?: V }));
  return {
    stackName: ctx('stackName') ?? 'LbTrafficAnalyzer',
    nag: ctx('nag') === undefined ? true : bool('nag', ctx('nag')),
    demo: bool('demo', ctx('demo')),
    ...opt('instanceRoleNames', list(ctx('instanceRoleNames'))),
    ...(ssmKey && ssmValues ? { ssmTarget: { key: ssmKey, values: ssmValues } } : {}),
    ...opt('alarmEmail', ctx('alarmEmail')),
    ...opt('alarmTopicArn', ctx('alarmTopicArn')),
    ...opt('loadBalancerDimension', ctx('loadBalancer')),
    ...opt('targetGroupDimension', ctx('targetGroup')),
    ...opt('logGroupName', ctx('logGroupName')),
    ...opt('metricsNamespace', ctx('metricsNamespace')),
    ...opt('captureInterface', ctx('interface')),
    ...opt('sample', sample),
  };
}

/** Build the app (tests call this with their own context). */
export function buildApp(app: App = new App()): { app: App; stack: TrafficAnalyzerStack } {
  const ctx: Ctx = (key) => {
    const v: unknown = app.node.tryGetContext(key);
    return v === undefined || v === null ? undefined : String(v);
  };
  const { stackName, nag, ...props } = propsFromContext(ctx);
  // No `env`: environment-agnostic, so synth needs no credentials and does no lookups;
  // cdk deploy fills in the account and region of the caller's credentials.
  const stack = new TrafficAnalyzerStack(app, stackName, {
    ...props,
    description: 'lb-traffic-analyzer: packet analyzer for load balancer targets, with alarms and a dashboard',
  });
  // cdk-nag: any unacknowledged AwsSolutions error fails synth and deploy.
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildApp().app.synth();
}
