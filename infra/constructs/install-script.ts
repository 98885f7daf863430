/**
 * The shell commands that put the analyzer on an EC2 instance: install Docker, write
 * the systemd unit `traffic-analyzer.service` and start it. Used as user data (new
 * instances) and as an SSM State Manager command (instances that already run).
 * Pure: tokens (image URI, region) pass through as strings and CloudFormation joins them.
 */
import { Token } from 'aws-cdk-lib';

/** The unit name the original script's users know: `systemctl status traffic-analyzer`. */
export const SERVICE_NAME = 'traffic-analyzer';
export const HOST_LOG_DIR = '/var/log/lb-traffic-analyzer';
/** The image's non-root user (Dockerfile); the host log dir must be writable by it. */
export const CONTAINER_UID = 10001;
/** docker stop timeout: the agent flushes CloudWatch within its own 5 s deadline. */
export const STOP_TIMEOUT_SEC = 30;

/** The flags that make the container need nothing but CAP_NET_RAW. */
export const CONTAINER_FLAGS = ['--net=host', '--cap-drop=ALL', '--cap-add=NET_RAW', '--read-only'] as const;

export type InstallScriptOptions = Readonly<{
  /** Full image URI in ECR (account.dkr.ecr.region.amazonaws.com/repo:tag). */
  imageUri: string;
  /** Registry host of imageUri, for `docker login`. */
  registry: string;
  /** AWS region of the registry. */
  region: string;
  /** LBTA_* (and AWS_*) settings passed to the container with -e. */
  environment: Readonly<Record<string, string>>;
}>;

/**
 * Quote a value for systemd's ExecStart= (single quotes, as in a shell). systemd itself
 * expands `%` specifiers and `$VAR`, so those are doubled to stay literal.
 */
function quote(value: string): string {
  // CDK tokens (e.g. the region) look like `${Token[...]}`: they resolve to plain names.
  if (Token.isUnresolved(value)) return `'${value}'`;
  const literal = value.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return `'${literal.replace(/'/g, `'\\''`)}'`;
}

/** The `docker run` command line the unit runs in the foreground (so journald gets its output). */
export function dockerRunCommand(opts: InstallScriptOptions): string {
  const env = Object.entries(opts.environment)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `-e ${k}=${quote(v)}`);
  return [
    '/usr/bin/docker run --rm',
    `--name ${SERVICE_NAME}`,
    ...CONTAINER_FLAGS,
    '--tmpfs /tmp:size=16m',
    `-v ${HOST_LOG_DIR}:${HOST_LOG_DIR}`,
    ...env,
    opts.imageUri,
  ].join(' ');
}

/** The systemd unit file's text. */
export function systemdUnit(opts: InstallScriptOptions): string {
  return [
    '[Unit]',
    'Description=lb-traffic-analyzer: packet analyzer for load balancer targets',
    'After=docker.service network-online.target',
    'Requires=docker.service',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Restart=always',
    'RestartSec=10',
    // The first start pulls the image.
    'TimeoutStartSec=600',
    `TimeoutStopSec=${STOP_TIMEOUT_SEC + 10}`,
    `ExecStartPre=-/usr/bin/docker rm -f ${SERVICE_NAME}`,
    `ExecStartPre=/usr/bin/install -d -o ${CONTAINER_UID} -g ${CONTAINER_UID} -m 0750 ${HOST_LOG_DIR}`,
    `ExecStartPre=/bin/sh -c 'aws ecr get-login-password --region ${opts.region} | docker login --username AWS --password-stdin ${opts.registry}'`,
    `ExecStartPre=/usr/bin/docker pull ${opts.imageUri}`,
    `ExecStart=${dockerRunCommand(opts)}`,
    `ExecStop=/usr/bin/docker stop -t ${STOP_TIMEOUT_SEC} ${SERVICE_NAME}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * The commands, in order. Idempotent: running them again (SSM re-applies the
 * association) rewrites the unit and restarts the service with the current image.
 */
export function installCommands(opts: InstallScriptOptions): string[] {
  return [
    'set -eu',
    // Docker and the AWS CLI (for the ECR login): Amazon Linux 2023/2 or Debian/Ubuntu.
    'if ! command -v docker >/dev/null 2>&1; then',
    '  if command -v dnf >/dev/null 2>&1; then dnf install -y docker;',
    '  elif command -v yum >/dev/null 2>&1; then yum install -y docker;',
    '  elif command -v apt-get >/dev/null 2>&1; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io;',
    "  else echo 'traffic-analyzer: no dnf, yum or apt-get to install Docker' >&2; exit 1; fi",
    'fi',
    'if ! command -v aws >/dev/null 2>&1; then',
    '  if command -v apt-get >/dev/null 2>&1; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q awscli || snap install aws-cli --classic; fi',
    'fi',
    'systemctl enable --now docker',
    `install -d -o ${CONTAINER_UID} -g ${CONTAINER_UID} -m 0750 ${HOST_LOG_DIR}`,
    `cat > /etc/systemd/system/${SERVICE_NAME}.service <<'LBTA_UNIT_EOF'`,
    systemdUnit(opts).trimEnd(),
    'LBTA_UNIT_EOF',
    'systemctl daemon-reload',
    `systemctl enable ${SERVICE_NAME}`,
    `systemctl restart ${SERVICE_NAME}`,
  ];
}
