/**
 * The TrafficAnalyzer construct on capacity defined in the same app (an Auto Scaling
 * group and an instance): what the synthesized template grants, alarms on and runs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { App, ArnFormat, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { TrafficAnalyzer, type TrafficAnalyzerProps } from '../../../infra/constructs/traffic-analyzer.js';
import { MetricName } from '../../../agent/events/metric-names.js';

type Json = Record<string, unknown>;

function fleet(props: Omit<TrafficAnalyzerProps, 'autoScalingGroups' | 'instances'> = {}): {
  stack: Stack;
  template: Template;
  analyzer: TrafficAnalyzer;
} {
  // As in cdk.json: Auto Scaling groups get launch templates (launch configurations are retired).
  const app = new App({ context: { '@aws-cdk/aws-autoscaling:generateLaunchTemplateInsteadOfLaunchConfig': true } });
  const stack = new Stack(app, 'Fleet');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }] });
  const asg = new autoscaling.AutoScalingGroup(stack, 'Web', {
    vpc,
    instanceType: new ec2.InstanceType('t3.small'),
    machineImage: ec2.MachineImage.latestAmazonLinux2023(),
  });
  const instance = new ec2.Instance(stack, 'Api', {
    vpc,
    instanceType: new ec2.InstanceType('t3.small'),
    machineImage: ec2.MachineImage.latestAmazonLinux2023(),
  });
  const analyzer = new TrafficAnalyzer(stack, 'Analyzer', { autoScalingGroups: [asg], instances: [instance], ...props });
  return { stack, template: Template.fromStack(stack), analyzer };
}

function resourcesOf(template: Template, type: string): Json[] {
  return Object.values(template.findResources(type)) as Json[];
}

function userDataText(template: Template, type: 'AWS::EC2::Instance' | 'AWS::EC2::LaunchTemplate'): string {
  const [res] = resourcesOf(template, type);
  assert.ok(res, `a ${type}`);
  const props = res['Properties'] as Json;
  const ud = type === 'AWS::EC2::Instance' ? props['UserData'] : (props['LaunchTemplateData'] as Json)['UserData'];
  // Fn::Base64 of Fn::Join: flatten to text, tokens shown as their JSON.
  const join = (ud as Json)['Fn::Base64'] as Json;
  const parts = (join['Fn::Join'] as [string, unknown[]])[1];
  return parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join('');
}

describe('TrafficAnalyzer on an Auto Scaling group and an instance', () => {
  it('grants exactly the calls the agent makes, on its own log group and namespace', () => {
    // Prepare
    const { stack, template } = fleet();
    const groupArn = stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '/lb-traffic-analyzer/events', arnFormat: ArnFormat.COLON_RESOURCE_NAME });

    // Act
    const [policy] = resourcesOf(template, 'AWS::IAM::ManagedPolicy');
    const statements = ((policy?.['Properties'] as Json)['PolicyDocument'] as Json)['Statement'] as Json[];

    // Assess
    assert.deepEqual(statements, [
      {
        Sid: 'OwnLogGroup',
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:PutRetentionPolicy'],
        Resource: [stack.resolve(groupArn), stack.resolve(`${groupArn}:log-stream:*`)],
      },
      {
        Sid: 'OwnMetricsNamespace',
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': 'LBTrafficAnalyzer' } },
      },
      {
        Sid: 'LoadBalancerDiscovery',
        Effect: 'Allow',
        Action: [
          'elasticloadbalancing:DescribeLoadBalancers',
          'elasticloadbalancing:DescribeTargetGroups',
          'elasticloadbalancing:DescribeTargetHealth',
          'elasticloadbalancing:DescribeTargetGroupAttributes',
          'elasticloadbalancing:DescribeInstanceHealth',
          'ec2:DescribeNetworkInterfaces',
        ],
        Resource: '*',
      },
    ]);
  });

  it('attaches the policy to both roles and adds nothing but ECR pull to them', () => {
    // Prepare
    const { template } = fleet();

    // Act
    const roles = resourcesOf(template, 'AWS::IAM::Role');
    const inline = resourcesOf(template, 'AWS::IAM::Policy');
    const actions = new Set(
      inline.flatMap((p) =>
        (((p['Properties'] as Json)['PolicyDocument'] as Json)['Statement'] as Json[]).flatMap((s) => [s['Action']].flat() as string[]),
      ),
    );

    // Assess
    assert.equal(roles.length, 2);
    for (const role of roles) {
      const arns = JSON.stringify((role['Properties'] as Json)['ManagedPolicyArns']);
      assert.match(arns, /AnalyzerAgentPolicy/, 'each instance role carries the agent policy');
    }
    assert.deepEqual([...actions].sort(), ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetAuthorizationToken', 'ecr:GetDownloadUrlForLayer']);
  });

  it('uses the namespace and log group given in props everywhere', () => {
    // Prepare
    const { template } = fleet({ metricsNamespace: 'Shop/Edge', logGroupName: '/shop/lbta' });

    // Act
    const text = JSON.stringify(template.toJSON());

    // Assess
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Condition: { StringEquals: { 'cloudwatch:namespace': 'Shop/Edge' } } })]) },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/shop/lbta', RetentionInDays: 14 });
    assert.match(text, /SCHEMA\(\\"Shop\/Edge\\", InstanceId\)/);
    assert.match(text, /LBTA_LOG_GROUP='\/shop\/lbta'/);
    assert.doesNotMatch(text, /LBTrafficAnalyzer"/);
  });

  it('keeps the events log group 14 days and retains it on stack deletion', () => {
    // Prepare / Act
    const { template } = fleet();

    // Assess
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { LogGroupName: '/lb-traffic-analyzer/events', RetentionInDays: 14 },
      DeletionPolicy: 'Retain',
    });
  });

  it('runs the container with only CAP_NET_RAW, read-only, on the host network, as the traffic-analyzer unit', () => {
    // Prepare
    const { template } = fleet({ captureInterface: 'ens5', sample: 5 });

    // Act
    const texts = [userDataText(template, 'AWS::EC2::Instance'), userDataText(template, 'AWS::EC2::LaunchTemplate')];

    // Assess
    for (const text of texts) {
      assert.match(text, /\/etc\/systemd\/system\/traffic-analyzer\.service/);
      assert.match(text, /systemctl enable traffic-analyzer/);
      assert.match(text, /systemctl restart traffic-analyzer/);
      const run = text.split('\n').find((l) => l.startsWith('ExecStart=/usr/bin/docker run'));
      assert.ok(run, 'an ExecStart with docker run');
      for (const flag of ['--rm', '--name traffic-analyzer', '--net=host', '--cap-drop=ALL', '--cap-add=NET_RAW', '--read-only']) {
        assert.ok(run.includes(` ${flag} `), `docker run has ${flag}: ${run}`);
      }
      assert.match(run, /-v \/var\/log\/lb-traffic-analyzer:\/var\/log\/lb-traffic-analyzer/);
      assert.match(run, /-e LBTA_CLOUDWATCH='on'/);
      assert.match(run, /-e LBTA_INTERFACE='ens5'/);
      assert.match(run, /-e LBTA_SAMPLE='5'/);
      assert.match(run, /-e LBTA_METRICS_NAMESPACE='LBTrafficAnalyzer'/);
      assert.doesNotMatch(run, /--privileged|--cap-add=(ALL|NET_ADMIN|SYS_ADMIN)/);
      assert.match(text, /docker login --username AWS --password-stdin/);
      assert.match(text, /ExecStop=\/usr\/bin\/docker stop -t 30 traffic-analyzer/);
    }
  });

  it('requires IMDSv2 on the instance and on the Auto Scaling group launch template', () => {
    // Prepare / Act
    const { template } = fleet();

    // Assess
    const templates = resourcesOf(template, 'AWS::EC2::LaunchTemplate');
    assert.ok(templates.length >= 2, 'one launch template for the instance, one for the group');
    for (const lt of templates) {
      const data = (lt['Properties'] as Json)['LaunchTemplateData'] as Json;
      assert.deepEqual((data['MetadataOptions'] as Json)['HttpTokens'], 'required');
    }
  });

  it('raises each alarm on the agent metric it names, fleet-wide, and breaches on a missing heartbeat', () => {
    // Prepare
    const { template } = fleet();

    // Act
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map((a) => a['Properties'] as Json);
    const byMetric = new Map<string, Json>();
    for (const a of alarms) {
      const metrics = a['Metrics'] as Json[] | undefined;
      if (metrics) {
        const expr = String(metrics[0]?.['Expression']);
        const m = /^SELECT (SUM|MAX)\((\w+)\) FROM SCHEMA\("LBTrafficAnalyzer", InstanceId\)$/.exec(expr);
        assert.ok(m, `a Metrics Insights query over the agent namespace: ${expr}`);
        byMetric.set(m[2] ?? '', a);
      } else {
        byMetric.set(`${a['MetricName']}@${JSON.stringify(a['Dimensions'])}`, a);
      }
    }

    // Assess
    for (const name of [
      MetricName.HealthChecksFailed,
      MetricName.HTTP5xx,
      MetricName.HTTP5xxRate,
      MetricName.ResetsByTarget,
      MetricName.ConnectionsUnanswered,
      MetricName.CaptureDrops,
      MetricName.EventsPending,
      MetricName.EventsRejected,
      MetricName.Heartbeat,
    ]) {
      assert.ok(byMetric.has(name), `an alarm on ${name}`);
    }
    const heartbeat = byMetric.get(MetricName.Heartbeat);
    assert.equal(heartbeat?.['TreatMissingData'], 'breaching');
    assert.equal(heartbeat?.['ComparisonOperator'], 'LessThanThreshold');
    assert.equal(byMetric.get(MetricName.HTTP5xx)?.['Threshold'], 10);
    assert.equal(byMetric.get(MetricName.HTTP5xxRate)?.['Threshold'], 5);
    // The instance known by ID gets its own heartbeat alarm on the {InstanceId} dimension.
    const perInstance = alarms.filter((a) => a['MetricName'] === MetricName.Heartbeat);
    assert.equal(perInstance.length, 1);
    assert.equal(perInstance[0]?.['Namespace'], 'LBTrafficAnalyzer');
    assert.equal(perInstance[0]?.['TreatMissingData'], 'breaching');
    assert.equal(((perInstance[0]?.['Dimensions'] as Json[])[0] as Json)['Name'], 'InstanceId');
  });

  it('creates an encrypted SNS topic with the e-mail subscription and points every alarm at it', () => {
    // Prepare
    const { template } = fleet({ alarmEmail: 'ops@example.com' });

    // Act
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map((a) => a['Properties'] as Json);

    // Assess
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    for (const a of alarms) {
      assert.equal((a['AlarmActions'] as unknown[]).length, 1, 'one alarm action');
      assert.equal((a['OKActions'] as unknown[]).length, 1, 'one OK action');
    }
  });

  it('uses an existing topic when given one and creates none', () => {
    // Prepare
    const app = new App();
    const stack = new Stack(app, 'S');
    const role = iam.Role.fromRoleName(stack, 'R', 'web-role');
    const topic = sns.Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:eu-west-1:111122223333:ops');

    // Act
    new TrafficAnalyzer(stack, 'A', { instanceRoles: [role], alarmTopic: topic });
    const template = Template.fromStack(stack);

    // Assess
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: ['arn:aws:sns:eu-west-1:111122223333:ops'] });
    template.hasResourceProperties('AWS::IAM::Policy', { Roles: ['web-role'] });
  });

  it('shows the load balancer own metrics beside the analyzer metrics on the dashboard', () => {
    // Prepare
    const { stack, template } = fleet({ loadBalancerDimension: 'app/shop/50dc6c495c0c9188', targetGroupDimension: 'targetgroup/web/73e2d6bc24d8a067' });

    // Act
    const [dash] = resourcesOf(template, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(stack.resolve((dash?.['Properties'] as Json)['DashboardBody']));

    // Assess
    for (const m of ['HTTPCode_Target_5XX_Count', 'TargetResponseTime', 'UnHealthyHostCount']) {
      assert.match(body, new RegExp(`AWS/ApplicationELB\\\\",\\\\"${m}\\\\",\\\\"LoadBalancer\\\\",\\\\"app/shop/50dc6c495c0c9188\\\\"`), m);
    }
    assert.match(body, /targetgroup\/web\/73e2d6bc24d8a067/);
    assert.match(body, /SELECT SUM\(HTTP_5XX_Count\)/);
    assert.match(body, /SELECT SUM\(Heartbeat\)/);
  });

  it('installs on running instances through an SSM association when given a target', () => {
    // Prepare
    const app = new App();
    const stack = new Stack(app, 'S');

    // Act
    new TrafficAnalyzer(stack, 'A', { ssmTarget: { key: 'tag:aws:autoscaling:groupName', values: ['web-asg'] } });
    const template = Template.fromStack(stack);

    // Assess
    template.hasResourceProperties('AWS::SSM::Association', {
      Name: 'AWS-RunShellScript',
      Targets: [{ Key: 'tag:aws:autoscaling:groupName', Values: ['web-asg'] }],
      Parameters: { commands: Match.arrayWith(['systemctl restart traffic-analyzer']) },
    });
  });
});

describe('TrafficAnalyzer props validation', () => {
  const cases: [string, Partial<TrafficAnalyzerProps>, RegExp][] = [
    ['no capacity at all', {}, /nothing to deploy onto/],
    ['a namespace in the AWS/ space', { metricsNamespace: 'AWS/EC2' }, /metricsNamespace "AWS\/EC2" is not valid/],
    ['a log group name with a space', { logGroupName: 'my group' }, /logGroupName "my group" is not valid/],
    ['retention shorter than 14 days', { logRetention: logs.RetentionDays.ONE_WEEK }, /logRetention \(days\) 7 is not valid: at least 14/],
    ['a sample of zero', { sample: 0 }, /sample 0 is not valid: a positive integer/],
    ['an e-mail without a domain', { alarmEmail: 'ops' }, /alarmEmail "ops" is not valid/],
    ['a load balancer ARN instead of its dimension', { loadBalancerDimension: 'arn:aws:elasticloadbalancing:x' }, /loadBalancerDimension .* app\/NAME\/ID/],
    ['a target group without its load balancer', { targetGroupDimension: 'targetgroup/web/73e2d6bc24d8a067' }, /needs loadBalancerDimension/],
    ['a negative threshold', { http5xxThreshold: -1 }, /http5xxThreshold -1 is not valid/],
  ];
  for (const [what, props, message] of cases) {
    it(`rejects ${what} with a message naming the value`, () => {
      // Prepare
      const app = new App();
      const stack = new Stack(app, 'S');
      const role = iam.Role.fromRoleName(stack, 'R', 'web-role');
      const withCapacity = what === 'no capacity at all' ? {} : { instanceRoles: [role] };

      // Act / Assess
      assert.throws(() => new TrafficAnalyzer(stack, 'A', { ...withCapacity, ...props }), message);
    });
  }

  it('rejects an e-mail and a topic together', () => {
    // Prepare
    const app = new App();
    const stack = new Stack(app, 'S');
    const topic = sns.Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:eu-west-1:111122223333:ops');

    // Act / Assess
    assert.throws(
      () => new TrafficAnalyzer(stack, 'A', { ssmTarget: { key: 'tag:x', values: ['y'] }, alarmEmail: 'a@example.com', alarmTopic: topic }),
      /alarmEmail or alarmTopic, not both/,
    );
  });
});
