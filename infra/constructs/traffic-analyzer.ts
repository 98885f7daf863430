/**
 * TrafficAnalyzer: puts lb-traffic-analyzer on EC2 capacity the user already has and
 * wires what operators look at: the log group, alarms, an SNS topic and a dashboard.
 *
 * Capacity comes in three shapes, all handled the same way (IAM policy, ECR pull,
 * IMDSv2, the systemd unit `traffic-analyzer`):
 *   - `autoScalingGroups` / `instances` defined in the same CDK app: user data;
 *   - `instanceRoles` plus `ssmTarget` for instances that already run: an SSM State
 *     Manager association runs the same install script (and re-runs it on new instances
 *     that match the target, so a whole fleet is covered).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, Aspects, Aws, Duration, Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { DEFAULT_NAMESPACE, MetricName } from '../../agent/events/metric-names.js';
import { installCommands, type InstallScriptOptions } from './install-script.js';

export const DEFAULT_LOG_GROUP_NAME = '/lb-traffic-analyzer/events';
/**
 * CloudWatch Logs rejects events older than the group's retention, and the agent may
 * replay up to 14 days of local backlog, so retention below 14 days loses events.
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
 */
export const MIN_LOG_RETENTION_DAYS = 14;
/**
 * CloudWatch namespaces: 1-255 characters, no leading colon, not starting with "AWS/".
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
 */
export const MAX_NAMESPACE_LENGTH = 255;
/**
 * Log group names: 1-512 characters of a-z A-Z 0-9 _ - / . #
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
 */
export const LOG_GROUP_NAME_PATTERN = /^[A-Za-z0-9_\-/.#]{1,512}$/;

/** The repository root: the nearest directory above this file with a Dockerfile and package.json. */
export function defaultImageDirectory(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'Dockerfile')) && existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`TrafficAnalyzer: no Dockerfile found above ${fileURLToPath(import.meta.url)}; pass the image prop`);
    dir = parent;
  }
}

export type SsmTarget = Readonly<{
  /** e.g. `tag:lb-traffic-analyzer`, `tag:aws:autoscaling:groupName`, `InstanceIds`. */
  key: string;
  values: readonly string[];
}>;

export interface TrafficAnalyzerProps {
  /**
   * Auto Scaling groups of this CDK app: their role gets the policy, their user data
   * the install script, their launch template IMDSv2-required.
   * @default - none
   */
  readonly autoScalingGroups?: readonly autoscaling.AutoScalingGroup[];
  /**
   * Instances of this CDK app (same treatment as autoScalingGroups). User data runs at
   * first boot only unless the instance has `userDataCausesReplacement`.
   * @default - none
   */
  readonly instances?: readonly ec2.Instance[];
  /**
   * Roles of instances that already run outside this app: they get the policy and ECR pull.
   * @default - none
   */
  readonly instanceRoles?: readonly iam.IRole[];
  /**
   * Install on running instances through SSM State Manager (needs the SSM agent and
   * AmazonSSMManagedInstanceCore on their role). New matching instances get it too.
   * @default - no association
   */
  readonly ssmTarget?: SsmTarget;
  /**
   * The container image.
   * @default - built from the Dockerfile at the repository root
   */
  readonly image?: ecrAssets.DockerImageAsset;
  /**
   * CloudWatch Logs group for events (created here, the agent's default name).
   * @default '/lb-traffic-analyzer/events'
   */
  readonly logGroupName?: string;
  /**
   * Retention of the log group, at least 14 days.
   * @default logs.RetentionDays.TWO_WEEKS
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Metrics namespace (the agent's --metrics-namespace).
   * @default 'LBTrafficAnalyzer'
   */
  readonly metricsNamespace?: string;
  /**
   * Interface to capture on (LBTA_INTERFACE).
   * @default - the agent picks the interface of the default route
   */
  readonly captureInterface?: string;
  /**
   * Analyse per-segment details of one flow in N (LBTA_SAMPLE).
   * @default 1
   */
  readonly sample?: number;
  /**
   * More LBTA_* settings for the container.
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * E-mail address subscribed to a new alarm topic.
   * @default - no e-mail subscription
   */
  readonly alarmEmail?: string;
  /**
   * Existing topic for alarm actions (instead of creating one).
   * @default - a topic is created only when alarmEmail is given
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * The load balancer's CloudWatch dimension value, `app/NAME/ID` (ALB) or `net/NAME/ID` (NLB),
   * to show its own metrics on the dashboard.
   * @default - the dashboard shows only the analyzer's metrics
   */
  readonly loadBalancerDimension?: string;
  /**
   * The target group's dimension value, `targetgroup/NAME/ID`.
   * @default - load balancer metrics without a target group dimension
   */
  readonly targetGroupDimension?: string;
  /**
   * HTTP 5xx responses per 5 minutes (all instances) that raise the alarm.
   * @default 10
   */
  readonly http5xxThreshold?: number;
  /**
   * Percentage of requests answered 5xx on one instance, sustained for 5 minutes, that raises the alarm.
   * @default 5
   */
  readonly http5xxRateThreshold?: number;
  /**
   * Connections reset by the target per 5 minutes that raise the alarm.
   * @default 10
   */
  readonly resetsThreshold?: number;
  /**
   * Unanswered connections (SYN without SYN-ACK) per 5 minutes that raise the alarm.
   * @default 5
   */
  readonly unansweredThreshold?: number;
  /**
   * Events waiting for CloudWatch Logs (all instances), every minute for 15 minutes, that raise the alarm.
   * @default 1000
   */
  readonly eventsPendingThreshold?: number;
  /**
   * Dashboard name.
   * @default - generated by CloudFormation
   */
  readonly dashboardName?: string;
}

/** Metric periods: the agent publishes once a minute (--metrics-interval 60). */
const PERIOD = Duration.minutes(1);
const WINDOW = Duration.minutes(5);

export class TrafficAnalyzer extends Construct {
  readonly logGroup: logs.LogGroup;
  readonly policy: iam.ManagedPolicy;
  readonly image: ecrAssets.DockerImageAsset;
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly alarmTopic: sns.ITopic | undefined;
  readonly dashboard: cloudwatch.Dashboard;
  readonly namespace: string;
  /** The commands that install and start the service (user data / SSM). */
  readonly installCommands: readonly string[];

  constructor(scope: Construct, id: string, props: TrafficAnalyzerProps = {}) {
    super(scope, id);
    validateProps(props);
    const stack = Stack.of(this);
    this.namespace = props.metricsNamespace ?? DEFAULT_NAMESPACE;
    const logGroupName = props.logGroupName ?? DEFAULT_LOG_GROUP_NAME;

    this.logGroup = new logs.LogGroup(this, 'Events', {
      logGroupName,
      retention: props.logRetention ?? logs.RetentionDays.TWO_WEEKS,
      // The events are the record of incidents: keep them when the stack goes away.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.policy = new iam.ManagedPolicy(this, 'AgentPolicy', {
      description: 'lb-traffic-analyzer agent: its own log group, its metrics namespace, load balancer discovery',
      statements: agentPolicyStatements(stack, logGroupName, this.namespace),
    });

    // Each acknowledgement names the finding and why it is the least privilege possible.
    Validations.of(this.policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudwatch:PutMetricData has no resource-level permissions and is limited to the namespace by the cloudwatch:namespace condition; ' +
        'elasticloadbalancing:Describe* and ec2:DescribeNetworkInterfaces support only "*".',
    });
    Validations.of(this.policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:${logGroupName}:log-stream:*]`,
      reason: 'The agent creates one stream per instance, named at run time, inside its own log group only.',
    });

    this.image =
      props.image ??
      new ecrAssets.DockerImageAsset(this, 'Image', {
        directory: defaultImageDirectory(),
        platform: ecrAssets.Platform.LINUX_AMD64,
      });

    const environment: Record<string, string> = {
      LBTA_CLOUDWATCH: 'on',
      AWS_REGION: Aws.REGION,
      LBTA_LOG_GROUP: logGroupName,
      LBTA_METRICS_NAMESPACE: this.namespace,
      LBTA_SAMPLE: String(props.sample ?? 1),
      ...(props.captureInterface ? { LBTA_INTERFACE: props.captureInterface } : {}),
      ...props.environment,
    };
    const scriptOpts: InstallScriptOptions = {
      imageUri: this.image.imageUri,
      registry: Fn.select(0, Fn.split('/', this.image.imageUri)),
      region: Aws.REGION,
      environment,
    };
    this.installCommands = installCommands(scriptOpts);

    const roles: iam.IRole[] = [...(props.instanceRoles ?? [])];
    for (const asg of props.autoScalingGroups ?? []) {
      roles.push(asg.role);
      asg.addUserData(...this.installCommands);
      Aspects.of(asg).add(new autoscaling.AutoScalingGroupRequireImdsv2Aspect());
    }
    for (const instance of props.instances ?? []) {
      roles.push(instance.role);
      instance.addUserData(...this.installCommands);
      Aspects.of(instance).add(new ec2.InstanceRequireImdsv2Aspect());
    }
    for (const role of roles) {
      role.addManagedPolicy(this.policy);
      this.image.repository.grantPull(role);
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ecr:GetAuthorizationToken (from grantPull) has no resource-level permissions; the pull actions are limited to the image repository.',
      });
    }

    if (props.ssmTarget) {
      new ssm.CfnAssociation(this, 'Install', {
        name: 'AWS-RunShellScript',
        associationName: `${stack.stackName}-traffic-analyzer`,
        targets: [{ key: props.ssmTarget.key, values: [...props.ssmTarget.values] }],
        parameters: { commands: [...this.installCommands] },
        // Re-applied daily: a stopped or drifted install comes back.
        scheduleExpression: 'rate(1 day)',
      });
    }

    this.alarmTopic = props.alarmTopic ?? (props.alarmEmail ? this.#createTopic(props.alarmEmail) : undefined);
    this.alarms = this.#createAlarms(props, [...(props.instances ?? [])]);
    if (this.alarmTopic) {
      const action = new cwActions.SnsAction(this.alarmTopic);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
    this.dashboard = this.#createDashboard(props);
  }

  /**
   * The analyzer's metric summed over every instance. The agent publishes each metric
   * with the dimension set {InstanceId} (plus LoadBalancer/TargetGroup sets when known);
   * a Metrics Insights query over exactly that set adds up the fleet without double
   * counting and covers instances that come and go with an Auto Scaling group.
   * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create_Metrics_Insights_Alarm.html
   */
  fleetMetric(metricName: MetricName, aggregate: 'SUM' | 'MAX' = 'SUM', period: Duration = WINDOW): cloudwatch.IMetric {
    return new cloudwatch.MathExpression({
      expression: `SELECT ${aggregate}(${metricName}) FROM SCHEMA("${this.namespace}", InstanceId)`,
      usingMetrics: {},
      period,
      label: `${metricName} (${aggregate.toLowerCase()}, all instances)`,
    });
  }

  /** The analyzer's metric for one instance (dimension set {InstanceId}). */
  instanceMetric(metricName: MetricName, instanceId: string, statistic = 'Sum', period: Duration = PERIOD): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName,
      dimensionsMap: { InstanceId: instanceId },
      statistic,
      period,
    });
  }

  #createTopic(email: string): sns.Topic {
    // SNS server-side encryption needs a customer key CloudWatch may use: the AWS
    // managed alias/aws/sns key does not let the alarm service publish.
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'lb-traffic-analyzer alarm topic encryption',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'lb-traffic-analyzer alarms',
      masterKey: key,
      enforceSSL: true,
    });
    topic.addSubscription(new subs.EmailSubscription(email));
    return topic;
  }

  #createAlarms(props: TrafficAnalyzerProps, instances: readonly ec2.Instance[]): cloudwatch.Alarm[] {
    const alarm = (
      id: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      description: string,
      opts: { comparison?: cloudwatch.ComparisonOperator; evaluationPeriods?: number; missing?: cloudwatch.TreatMissingData } = {},
    ): cloudwatch.Alarm =>
      new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        alarmDescription: description,
        comparisonOperator: opts.comparison ?? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: opts.evaluationPeriods ?? 1,
        treatMissingData: opts.missing ?? cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    const alarms = [
      alarm('HealthCheckFailuresAlarm', this.fleetMetric(MetricName.HealthChecksFailed), 1,
        'The load balancer health checks seen on the instances are failing (HEALTH_CHECK_FAIL events).'),
      alarm('Http5xxAlarm', this.fleetMetric(MetricName.HTTP5xx), props.http5xxThreshold ?? 10,
        'Targets answered HTTP 5xx (APP_ERROR events) at or above the threshold per 5 minutes.'),
      alarm('Http5xxRateAlarm', this.fleetMetric(MetricName.HTTP5xxRate, 'MAX', PERIOD), props.http5xxRateThreshold ?? 5,
        'On at least one instance, 5xx answers were at or above the threshold percentage of requests for 5 minutes.',
        { evaluationPeriods: 5 }),
      alarm('ResetsAlarm', this.fleetMetric(MetricName.ResetsByTarget), props.resetsThreshold ?? 10,
        'Targets reset connections (TCP_ERROR reset_by_target) at or above the threshold per 5 minutes.'),
      alarm('UnansweredConnectionsAlarm', this.fleetMetric(MetricName.ConnectionsUnanswered), props.unansweredThreshold ?? 5,
        'Connections got no SYN-ACK (CONNECTION_FAILED unanswered): the application is not accepting.'),
      alarm('CaptureDropsAlarm', this.fleetMetric(MetricName.CaptureDrops), 1,
        'The kernel dropped captured packets: figures are incomplete (raise --buffer-size or -s).'),
      // EventsPending is a gauge sent once a minute: sum over instances per minute, held for 15 minutes.
      alarm('EventsPendingAlarm', this.fleetMetric(MetricName.EventsPending, 'SUM', PERIOD), props.eventsPendingThreshold ?? 1000,
        'Events stayed unshipped for 15 minutes: CloudWatch Logs unreachable or throttled (they stay in the local log).',
        { evaluationPeriods: 15 }),
      alarm('EventsRejectedAlarm', this.fleetMetric(MetricName.EventsRejected), 1,
        'CloudWatch Logs rejected events (too old or in the future): they stay only in the local log.'),
      // No heartbeat at all = no agent is running or none can publish: missing data breaches.
      alarm('HeartbeatAlarm', this.fleetMetric(MetricName.Heartbeat, 'SUM', PERIOD), 1,
        'No analyzer heartbeat: the agent is not running or cannot publish metrics.',
        { comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, evaluationPeriods: 3, missing: cloudwatch.TreatMissingData.BREACHING }),
    ];
    // Instances known by ID also get a heartbeat of their own: one silent host in a fleet.
    instances.forEach((instance, i) => {
      alarms.push(
        alarm(`HeartbeatAlarm${i}`, this.instanceMetric(MetricName.Heartbeat, instance.instanceId), 1,
          'No analyzer heartbeat from this instance.',
          { comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, evaluationPeriods: 3, missing: cloudwatch.TreatMissingData.BREACHING }),
      );
    });
    return alarms;
  }

  #createDashboard(props: TrafficAnalyzerProps): cloudwatch.Dashboard {
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      ...(props.dashboardName ? { dashboardName: props.dashboardName } : {}),
      defaultInterval: Duration.hours(3),
    });
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []): cloudwatch.GraphWidget =>
      new cloudwatch.GraphWidget({ title, left, right, width: 12, height: 6 });
    const per = (m: MetricName): cloudwatch.IMetric => this.fleetMetric(m, 'SUM', PERIOD);

    const lb = loadBalancerMetrics(props.loadBalancerDimension, props.targetGroupDimension);
    dashboard.addWidgets(
      graph('HTTP errors: analyzer vs load balancer', [per(MetricName.HTTP5xx), per(MetricName.HTTP4xx), ...lb.errors], [per(MetricName.Requests)]),
      graph('Response time (s): analyzer vs load balancer', [this.fleetMetric(MetricName.TargetResponseTime, 'MAX', PERIOD), ...lb.latency]),
    );
    dashboard.addWidgets(
      graph('Health checks', [per(MetricName.HealthChecksFailed), ...lb.unhealthy], [per(MetricName.HealthChecksOk)]),
      graph('Connections', [
        per(MetricName.ResetsByTarget),
        per(MetricName.ResetsByPeer),
        per(MetricName.ConnectionsRefused),
        per(MetricName.ConnectionsUnanswered),
        per(MetricName.LoopsDetected),
      ]),
    );
    dashboard.addWidgets(
      graph('TCP quality', [per(MetricName.Retransmissions), per(MetricName.ZeroWindows)]),
      graph('Agent', [per(MetricName.CaptureDrops), per(MetricName.EventsPending), per(MetricName.EventsRejected)], [per(MetricName.Heartbeat)]),
    );
    dashboard.addWidgets(
      new cloudwatch.LogQueryWidget({
        title: 'Latest events',
        logGroupNames: [this.logGroup.logGroupName],
        queryLines: ['fields @timestamp, type, reason, message', 'sort @timestamp desc', 'limit 50'],
        width: 24,
        height: 6,
      }),
    );
    return dashboard;
  }
}

/**
 * Exactly what the agent calls, nothing more (plus ECR pull, granted separately).
 * Describe* calls of ELB and EC2 do not support resource-level permissions, hence "*".
 */
export function agentPolicyStatements(stack: Stack, logGroupName: string, namespace: string): iam.PolicyStatement[] {
  const groupArn = stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  return [
    new iam.PolicyStatement({
      sid: 'OwnLogGroup',
      actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:PutRetentionPolicy'],
      resources: [groupArn, `${groupArn}:log-stream:*`],
    }),
    new iam.PolicyStatement({
      sid: 'OwnMetricsNamespace',
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': namespace } },
    }),
    new iam.PolicyStatement({
      sid: 'LoadBalancerDiscovery',
      actions: [
        'elasticloadbalancing:DescribeLoadBalancers',
        'elasticloadbalancing:DescribeTargetGroups',
        'elasticloadbalancing:DescribeTargetHealth',
        'elasticloadbalancing:DescribeTargetGroupAttributes',
        'elasticloadbalancing:DescribeInstanceHealth',
        'ec2:DescribeNetworkInterfaces',
      ],
      resources: ['*'],
    }),
  ];
}

type LbMetrics = { errors: cloudwatch.IMetric[]; latency: cloudwatch.IMetric[]; unhealthy: cloudwatch.IMetric[] };

/** The load balancer's own metrics for the same dimensions (ALB or NLB). */
export function loadBalancerMetrics(lbDimension: string | undefined, tgDimension: string | undefined): LbMetrics {
  if (!lbDimension) return { errors: [], latency: [], unhealthy: [] };
  const dims: Record<string, string> = { LoadBalancer: lbDimension, ...(tgDimension ? { TargetGroup: tgDimension } : {}) };
  const isNlb = !Token.isUnresolved(lbDimension) && lbDimension.startsWith('net/');
  const namespace = isNlb ? 'AWS/NetworkELB' : 'AWS/ApplicationELB';
  const m = (metricName: string, statistic: string, label: string): cloudwatch.Metric =>
    new cloudwatch.Metric({ namespace, metricName, dimensionsMap: dims, statistic, period: PERIOD, label });
  // UnHealthyHostCount is published per target group (with the LoadBalancer dimension).
  const unhealthy = tgDimension ? [m('UnHealthyHostCount', 'Maximum', 'LB: UnHealthyHostCount')] : [];
  if (isNlb) {
    return { errors: [m('TCP_Target_Reset_Count', 'Sum', 'LB: TCP_Target_Reset_Count')], latency: [], unhealthy };
  }
  return {
    errors: [m('HTTPCode_Target_5XX_Count', 'Sum', 'LB: HTTPCode_Target_5XX_Count')],
    latency: [m('TargetResponseTime', 'Maximum', 'LB: TargetResponseTime')],
    unhealthy,
  };
}

function fail(what: string, value: unknown, allowed: string): never {
  throw new Error(`TrafficAnalyzer: ${what} ${JSON.stringify(value)} is not valid: ${allowed}`);
}

/** Misuse fails at synth time with the value and what is allowed. */
export function validateProps(props: TrafficAnalyzerProps): void {
  const targets = (props.autoScalingGroups?.length ?? 0) + (props.instances?.length ?? 0) + (props.instanceRoles?.length ?? 0);
  if (targets === 0 && !props.ssmTarget) {
    throw new Error('TrafficAnalyzer: nothing to deploy onto: give autoScalingGroups, instances, instanceRoles or ssmTarget');
  }
  if (props.ssmTarget && (props.ssmTarget.key === '' || props.ssmTarget.values.length === 0)) {
    fail('ssmTarget', props.ssmTarget, 'a key (e.g. "tag:lb-traffic-analyzer") and at least one value');
  }
  const ns = props.metricsNamespace;
  if (ns !== undefined && !Token.isUnresolved(ns)) {
    if (ns.length === 0 || ns.length > MAX_NAMESPACE_LENGTH || ns.startsWith(':') || ns.startsWith('AWS/')) {
      fail('metricsNamespace', ns, `1-${MAX_NAMESPACE_LENGTH} characters, not starting with ":" or "AWS/"`);
    }
  }
  const lg = props.logGroupName;
  if (lg !== undefined && !Token.isUnresolved(lg) && !LOG_GROUP_NAME_PATTERN.test(lg)) {
    fail('logGroupName', lg, '1-512 characters of a-z A-Z 0-9 _ - / . #');
  }
  const retention = props.logRetention;
  if (retention !== undefined && retention !== logs.RetentionDays.INFINITE && retention < MIN_LOG_RETENTION_DAYS) {
    fail('logRetention (days)', retention, `at least ${MIN_LOG_RETENTION_DAYS}: CloudWatch rejects events older than the retention`);
  }
  if (props.sample !== undefined && (!Number.isInteger(props.sample) || props.sample < 1)) {
    fail('sample', props.sample, 'a positive integer (1 = every flow)');
  }
  if (props.alarmEmail !== undefined && !Token.isUnresolved(props.alarmEmail) && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.alarmEmail)) {
    fail('alarmEmail', props.alarmEmail, 'an e-mail address such as ops@example.com');
  }
  if (props.alarmEmail !== undefined && props.alarmTopic !== undefined) {
    throw new Error('TrafficAnalyzer: give alarmEmail or alarmTopic, not both (subscribe the address to your topic instead)');
  }
  const lb = props.loadBalancerDimension;
  if (lb !== undefined && !Token.isUnresolved(lb) && !/^(app|net)\/[^/]+\/[0-9a-f]+$/.test(lb)) {
    fail('loadBalancerDimension', lb, 'app/NAME/ID or net/NAME/ID (the part of the ARN after "loadbalancer/")');
  }
  const tg = props.targetGroupDimension;
  if (tg !== undefined && !Token.isUnresolved(tg) && !/^targetgroup\/[^/]+\/[0-9a-f]+$/.test(tg)) {
    fail('targetGroupDimension', tg, 'targetgroup/NAME/ID (the part of the ARN after the last ":")');
  }
  if (tg !== undefined && lb === undefined) {
    throw new Error('TrafficAnalyzer: targetGroupDimension needs loadBalancerDimension (the load balancer publishes both together)');
  }
  for (const [name, v] of [
    ['http5xxThreshold', props.http5xxThreshold],
    ['http5xxRateThreshold', props.http5xxRateThreshold],
    ['resetsThreshold', props.resetsThreshold],
    ['unansweredThreshold', props.unansweredThreshold],
    ['eventsPendingThreshold', props.eventsPendingThreshold],
  ] as const) {
    if (v !== undefined && (!Number.isFinite(v) || v <= 0)) fail(name, v, 'a positive number');
  }
}
