/**
 * The deployable app: both modes synthesize offline, cdk-nag's AwsSolutions pack finds
 * no unacknowledged error, context keys become props, and the real `cdk synth` works.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { App, type Stack } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, propsFromContext } from '../../../infra/app.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The compiled app next to this compiled test (dist/ or a per-helper build dir). */
const compiledApp = resolve(here, '../../../infra/app.js');
/** The repository root: holds cdk.json. */
const repoRoot = (() => {
  let dir = here;
  while (!existsSync(join(dir, 'cdk.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cdk.json not found above the test');
    dir = up;
  }
  return dir;
})();

type Violation = { ruleName: string; violatingConstructs: { constructPath: string }[] };

/** Synthesize with cdk-nag on; return the unacknowledged findings (empty when clean). */
function synthWithNag(context: Record<string, string>, mutate?: (stack: Stack) => void): { violations: string[]; template: Template } {
  const outdir = mkdtempSync(join(tmpdir(), 'lbta-cdk-'));
  try {
    const app = new App({ context, outdir });
    const { stack } = buildApp(app);
    mutate?.(stack);
    let violations: string[] = [];
    try {
      app.synth();
    } catch (err) {
      const report = join(outdir, 'validation-report.json');
      if (!existsSync(report)) throw err;
      const parsed = JSON.parse(readFileSync(report, 'utf8')) as { pluginReports: { violations: Violation[] }[] };
      violations = parsed.pluginReports.flatMap((p) =>
        p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)),
      );
      if (violations.length === 0) throw err;
    }
    // Template.fromStack synthesizes again (with validation): only for a clean app.
    return { violations, template: violations.length === 0 ? Template.fromStack(stack) : Template.fromJSON({}) };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

describe('the CDK app', () => {
  it('synthesizes normal mode with no unacknowledged cdk-nag AwsSolutions error', () => {
    // Prepare / Act
    const { violations, template } = synthWithNag({ instanceRoleNames: 'web-role,api-role', alarmEmail: 'ops@example.com' });

    // Assess
    assert.deepEqual(violations, [], `cdk-nag findings:\n${violations.join('\n')}`);
    template.resourceCountIs('AWS::EC2::Instance', 0);
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.hasResourceProperties('AWS::SSM::Association', { Targets: [{ Key: 'tag:lb-traffic-analyzer', Values: ['enabled'] }] });
    template.hasResourceProperties('AWS::IAM::Policy', { Roles: ['web-role'] });
    template.hasResourceProperties('AWS::IAM::Policy', { Roles: ['api-role'] });
    template.hasOutput('AgentPolicyArn', {});
  });

  it('synthesizes demo mode (VPC, ALB, nginx target) with no unacknowledged cdk-nag error', () => {
    // Prepare / Act
    const { violations, template } = synthWithNag({ demo: 'true' });

    // Assess
    assert.deepEqual(violations, [], `cdk-nag findings:\n${violations.join('\n')}`);
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 1);
    template.resourceCountIs('AWS::EC2::Instance', 1);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { HealthCheckPath: '/health', Port: 80 });
    const instance = Object.values(template.findResources('AWS::EC2::Instance'))[0] as { Properties: { UserData: unknown } };
    const userData = JSON.stringify(instance.Properties.UserData);
    assert.match(userData, /dnf install -y nginx/);
    assert.match(userData, /--cap-add=NET_RAW/);
    // The dashboard reads the demo ALB's own metrics by its full name.
    const dash = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
    assert.match(dash, /AWS\/ApplicationELB/);
    assert.match(dash, /LoadBalancerFullName/);
    template.hasOutput('DemoUrl', {});
  });

  it('reports an unacknowledged finding (the check is live, not a no-op)', () => {
    // Prepare / Act: an extra topic without encryption or SSL enforcement.
    const { violations } = synthWithNag({ instanceRoleNames: 'web-role' }, (stack) => new sns.Topic(stack, 'Unsafe'));

    // Assess
    assert.ok(violations.some((v) => v.startsWith('AwsSolutions-SNS') && v.includes('/Unsafe/')), violations.join('\n'));
  });

  it('turns context keys into props and rejects a bad boolean', () => {
    // Prepare
    const ctx = new Map<string, string>([
      ['demo', 'false'],
      ['instanceRoleNames', ' web-role , api-role '],
      ['ssmTargetKey', 'tag:aws:autoscaling:groupName'],
      ['ssmTargetValues', 'web-asg'],
      ['loadBalancer', 'app/shop/50dc6c495c0c9188'],
      ['targetGroup', 'targetgroup/web/73e2d6bc24d8a067'],
      ['sample', '10'],
      ['interface', 'ens5'],
    ]);

    // Act
    const props = propsFromContext((k) => ctx.get(k));

    // Assess
    assert.deepEqual(props, {
      stackName: 'LbTrafficAnalyzer',
      nag: true,
      demo: false,
      instanceRoleNames: ['web-role', 'api-role'],
      ssmTarget: { key: 'tag:aws:autoscaling:groupName', values: ['web-asg'] },
      loadBalancerDimension: 'app/shop/50dc6c495c0c9188',
      targetGroupDimension: 'targetgroup/web/73e2d6bc24d8a067',
      sample: 10,
      captureInterface: 'ens5',
    });
    assert.throws(() => propsFromContext((k) => (k === 'demo' ? 'yes' : undefined)), /context demo: "yes" is not true or false/);
    assert.throws(() => propsFromContext((k) => (k === 'ssmTargetKey' ? 'tag:x' : undefined)), /ssmTargetKey and ssmTargetValues go together/);
  });

  it('runs `cdk synth` offline for both modes with the CLI and cdk.json', { timeout: 180_000 }, async (t) => {
    // Prepare
    const cdk = join(repoRoot, 'node_modules/.bin/cdk');
    if (!existsSync(cdk)) {
      t.skip(`SKIPPED: the aws-cdk CLI is not installed at ${cdk} (npm ci installs it)`);
      return;
    }
    const out = mkdtempSync(join(tmpdir(), 'lbta-cdk-cli-'));
    const env: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', CI: 'true' };
    try {
      for (const demo of ['false', 'true']) {
        // Act
        const { stdout } = await promisify(execFile)(
          cdk,
          ['synth', '--app', `node ${compiledApp}`, '--output', join(out, demo), '--no-notices', '--no-version-reporting', '-c', `demo=${demo}`, '--quiet'],
          { cwd: repoRoot, env, timeout: 170_000, maxBuffer: 16 * 1024 * 1024 },
        );
        void stdout;

        // Assess
        const template = JSON.parse(readFileSync(join(out, demo, 'LbTrafficAnalyzer.template.json'), 'utf8')) as { Resources: Record<string, { Type: string }> };
        const types = new Set(Object.values(template.Resources).map((r) => r.Type));
        assert.ok(types.has('AWS::IAM::ManagedPolicy') && types.has('AWS::CloudWatch::Dashboard') && types.has('AWS::Logs::LogGroup'));
        assert.equal(types.has('AWS::ElasticLoadBalancingV2::LoadBalancer'), demo === 'true');
        assert.ok(readdirSync(join(out, demo)).some((f) => f.startsWith('asset.')), 'the image asset is staged');
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
