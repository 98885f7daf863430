/**
 * The deployable stack. Two modes:
 *   - normal: the analyzer for capacity that already runs: instance roles get the
 *     policy, an SSM association installs the service on instances that match a target
 *     (default: tag lb-traffic-analyzer=enabled);
 *   - demo: a VPC, an internet-facing ALB and one target instance running nginx with
 *     the analyzer, to try everything end to end.
 * Environment-agnostic (no lookups), so `cdk synth` works offline.
 */
import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as targets from 'aws-cdk-lib/aws-elasticloadbalancingv2-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { TrafficAnalyzer, type SsmTarget } from './constructs/traffic-analyzer.js';

export const DEFAULT_SSM_TARGET: SsmTarget = { key: 'tag:lb-traffic-analyzer', values: ['enabled'] };

export interface TrafficAnalyzerStackProps extends StackProps {
  /**
   * Create a VPC, an ALB and one nginx target with the analyzer.
   * @default false
   */
  readonly demo?: boolean;
  /**
   * Names of existing instance roles to grant the agent's permissions to.
   * @default - none (attach the output AgentPolicyArn yourself)
   */
  readonly instanceRoleNames?: readonly string[];
  /**
   * Which running instances SSM installs the service on (normal mode).
   * @default tag lb-traffic-analyzer=enabled
   */
  readonly ssmTarget?: SsmTarget;
  /** @default - no e-mail subscription */
  readonly alarmEmail?: string;
  /** @default - a topic only when alarmEmail is given */
  readonly alarmTopicArn?: string;
  /** @default - dashboard without the load balancer's own metrics */
  readonly loadBalancerDimension?: string;
  /** @default - none */
  readonly targetGroupDimension?: string;
  /** @default '/lb-traffic-analyzer/events' */
  readonly logGroupName?: string;
  /** @default 'LBTrafficAnalyzer' */
  readonly metricsNamespace?: string;
  /** @default - the default-route interface */
  readonly captureInterface?: string;
  /** @default 1 */
  readonly sample?: number;
  /**
   * Image directory (the repository root with the Dockerfile).
   * @default - the repository root
   */
  readonly imageDirectory?: string;
}

export class TrafficAnalyzerStack extends Stack {
  readonly analyzer: TrafficAnalyzer;

  constructor(scope: Construct, id: string, props: TrafficAnalyzerStackProps = {}) {
    super(scope, id, props);
    const image = props.imageDirectory
      ? new ecrAssets.DockerImageAsset(this, 'Image', { directory: props.imageDirectory, platform: ecrAssets.Platform.LINUX_AMD64 })
      : undefined;
    const instanceRoles = (props.instanceRoleNames ?? []).map((name, i) => iam.Role.fromRoleName(this, `InstanceRole${i}`, name));
    const alarmTopic = props.alarmTopicArn ? sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn) : undefined;
    const common = {
      ...(image ? { image } : {}),
      ...(props.alarmEmail ? { alarmEmail: props.alarmEmail } : {}),
      ...(alarmTopic ? { alarmTopic } : {}),
      ...(props.logGroupName ? { logGroupName: props.logGroupName } : {}),
      ...(props.metricsNamespace ? { metricsNamespace: props.metricsNamespace } : {}),
      ...(props.captureInterface ? { captureInterface: props.captureInterface } : {}),
      ...(props.sample !== undefined ? { sample: props.sample } : {}),
    };

    if (props.demo) {
      const demo = this.#demo();
      this.analyzer = new TrafficAnalyzer(this, 'Analyzer', {
        ...common,
        instances: [demo.instance],
        instanceRoles,
        loadBalancerDimension: demo.alb.loadBalancerFullName,
        targetGroupDimension: demo.targetGroup.targetGroupFullName,
      });
      new CfnOutput(this, 'DemoUrl', { value: `http://${demo.alb.loadBalancerDnsName}/`, description: 'The demo application behind the ALB' });
      new CfnOutput(this, 'DemoInstanceId', { value: demo.instance.instanceId });
    } else {
      this.analyzer = new TrafficAnalyzer(this, 'Analyzer', {
        ...common,
        instanceRoles,
        ssmTarget: props.ssmTarget ?? DEFAULT_SSM_TARGET,
        ...(props.loadBalancerDimension ? { loadBalancerDimension: props.loadBalancerDimension } : {}),
        ...(props.targetGroupDimension ? { targetGroupDimension: props.targetGroupDimension } : {}),
      });
    }
    new CfnOutput(this, 'AgentPolicyArn', {
      value: this.analyzer.policy.managedPolicyArn,
      description: 'Attach to the instance roles of the hosts that run the analyzer',
    });
    new CfnOutput(this, 'LogGroupName', { value: this.analyzer.logGroup.logGroupName });
    new CfnOutput(this, 'ImageUri', { value: this.analyzer.image.imageUri });
    new CfnOutput(this, 'DashboardName', { value: this.analyzer.dashboard.dashboardName });
  }

  #demo(): { instance: ec2.Instance; alb: elbv2.ApplicationLoadBalancer; targetGroup: elbv2.ApplicationTargetGroup } {
    // Public subnets only: no NAT gateway to pay for; the instance reaches ECR and the
    // package mirrors through its public address, and accepts traffic only from the ALB.
    const vpc = new ec2.Vpc(this, 'DemoVpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
    });
    vpc.addFlowLog('FlowLog');
    const albSg = new ec2.SecurityGroup(this, 'DemoAlbSg', { vpc, description: 'Demo ALB: HTTP from anywhere' });
    albSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), 'HTTP from the internet (demo)');
    const instanceSg = new ec2.SecurityGroup(this, 'DemoInstanceSg', { vpc, description: 'Demo target: HTTP from the ALB only' });
    instanceSg.addIngressRule(albSg, ec2.Port.tcp(80), 'HTTP from the demo ALB');

    const role = new iam.Role(this, 'DemoInstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Demo target: SSM Session Manager access (no SSH) plus the analyzer policy',
    });
    role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore'));
    const instance = new ec2.Instance(this, 'DemoInstance', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T3, ec2.InstanceSize.SMALL),
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      securityGroup: instanceSg,
      role,
      requireImdsv2: true,
      detailedMonitoring: true,
      userDataCausesReplacement: true,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(16, { encrypted: true }) }],
    });
    // The sample application: nginx with a page, a 5xx path and a slow path to see events.
    instance.addUserData(
      'dnf install -y nginx',
      "cat > /etc/nginx/default.d/demo.conf <<'EOF'",
      'location = /error { return 503 "demo error\\n"; }',
      'location = /health { return 200 "ok\\n"; }',
      'EOF',
      'systemctl enable --now nginx',
    );

    const alb = new elbv2.ApplicationLoadBalancer(this, 'DemoAlb', { vpc, internetFacing: true, securityGroup: albSg, dropInvalidHeaderFields: true });
    const listener = alb.addListener('Http', { port: 80, open: false });
    const targetGroup = listener.addTargets('Web', {
      port: 80,
      targets: [new targets.InstanceTarget(instance, 80)],
      healthCheck: { path: '/health', interval: Duration.seconds(10), healthyThresholdCount: 2 },
    });

    // Each acknowledgement says why the demo accepts the finding.
    Validations.of(alb).acknowledge({ id: 'AwsSolutions-ELB2', reason: 'Demo ALB: access logs need a bucket the demo would leave behind; the analyzer is what is being shown.' });
    Validations.of(albSg).acknowledge({ id: 'AwsSolutions-EC23', reason: 'Demo ALB is meant to be reached from the internet on port 80.' });
    Validations.of(instance).acknowledge({ id: 'AwsSolutions-EC29', reason: 'Demo instance is disposable: termination protection would block cdk destroy.' });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason: 'AWS managed policy for Session Manager access to the demo instance (no SSH key, no open port).',
    });
    return { instance, alb, targetGroup };
  }
}
