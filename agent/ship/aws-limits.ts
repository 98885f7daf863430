/**
 * Every AWS limit and default this agent obeys, in one place, each with where AWS
 * states it. Change a value only after checking the linked page.
 */

const PUT_LOG_EVENTS_DOC = 'https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html';
const PUT_METRIC_DATA_DOC = 'https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html';

/** At most 10,000 log events per PutLogEvents call. @see {@link PUT_LOG_EVENTS_DOC} */
export const LOGS_MAX_EVENTS_PER_BATCH = 10_000;
/** At most 1,048,576 bytes per call: UTF-8 message bytes plus 26 per event. @see {@link PUT_LOG_EVENTS_DOC} */
export const LOGS_MAX_BATCH_BYTES = 1_048_576;
/** Per-event overhead counted against LOGS_MAX_BATCH_BYTES. @see {@link PUT_LOG_EVENTS_DOC} */
export const LOGS_EVENT_OVERHEAD_BYTES = 26;
/**
 * Largest single event. AWS has raised it to 1 MB; we keep the older, smaller 256 KB
 * (minus the overhead) so a batch never depends on the newer limit. Our events are
 * far below either. @see {@link PUT_LOG_EVENTS_DOC}
 */
export const LOGS_MAX_EVENT_BYTES = 262_144 - LOGS_EVENT_OVERHEAD_BYTES;
/** Events of one call may span at most 24 hours. @see {@link PUT_LOG_EVENTS_DOC} */
export const LOGS_MAX_BATCH_SPAN_MS = 24 * 60 * 60 * 1000;
/** Events older than 14 days are rejected (HTTP 200, rejectedLogEventsInfo). @see {@link PUT_LOG_EVENTS_DOC} */
export const LOGS_MAX_EVENT_AGE_MS = 14 * 24 * 60 * 60 * 1000;
/** Events more than 2 hours in the future are rejected. @see {@link PUT_LOG_EVENTS_DOC} */
export const LOGS_MAX_EVENT_FUTURE_MS = 2 * 60 * 60 * 1000;
/**
 * Margin kept inside the age/future windows so an event that is valid when the batch
 * is built is still valid when it arrives (clock skew, a slow retry).
 */
export const LOGS_WINDOW_SAFETY_MS = 5 * 60 * 1000;

/**
 * The only values PutRetentionPolicy accepts for retentionInDays.
 * @see https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
 */
export const LOGS_RETENTION_DAYS_ALLOWED = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;
/** Default retention: 14 days, so nothing the 14-day ingestion window accepts expires early. */
export const LOGS_DEFAULT_RETENTION_DAYS = 14;

/** At most 1000 different metrics per PutMetricData call. @see {@link PUT_METRIC_DATA_DOC} */
export const METRICS_MAX_PER_CALL = 1000;
/** A PutMetricData POST is limited to 1 MB. @see {@link PUT_METRIC_DATA_DOC} */
export const METRICS_MAX_REQUEST_BYTES = 1_000_000;
/** Values must lie within ±2^360; NaN and ±Infinity are not supported. @see {@link PUT_METRIC_DATA_DOC} */
export const METRICS_MAX_ABS_VALUE = 2 ** 360;
/** Up to 30 dimensions per metric. @see {@link PUT_METRIC_DATA_DOC} */
export const METRICS_MAX_DIMENSIONS = 30;

/**
 * DescribeTargetGroups PageSize: 1..400.
 * @see https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetGroups.html
 */
export const ELBV2_MAX_PAGE_SIZE = 400;
/**
 * DescribeTargetGroupAttributes takes one target group; DescribeLoadBalancers takes at most 20 ARNs.
 * @see https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeLoadBalancers.html
 */
export const ELBV2_MAX_LB_ARNS_PER_CALL = 20;

/**
 * IMDSv2: the token is fetched with PUT /latest/api/token and a TTL of 1..21600 s. The
 * token response's IP hop limit (default 1) is why the container runs with --net=host:
 * in a bridged container the extra hop drops it.
 * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
 */
export const IMDS_TOKEN_TTL_SECONDS = 21_600;
export const IMDS_DEFAULT_ENDPOINT = 'http://169.254.169.254';
