import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonObjectAnswer, queryXmlAnswer, UnverifiedAnswerError } from '../../../../agent/ship/cloudwatch-answer-check.js';
import { CallDeadlineError, classifyAwsError, ErrorKind, failureKind, LogOnce, withDeadline } from '../../../../agent/ship/cloudwatch-retry.js';

describe('answer checks (a 2xx is trusted only when it is plainly the service\'s own)', () => {
  it('takes a JSON object under a JSON content type, or an empty body under one, for a PutLogEvents answer', () => {
    // Act / Assess
    assert.equal(jsonObjectAnswer('PutLogEvents', 'application/x-amz-json-1.1', '{"nextSequenceToken":"1"}'), undefined);
    assert.equal(jsonObjectAnswer('PutLogEvents', 'application/x-amz-json-1.1', ''), undefined);
    assert.equal(jsonObjectAnswer('PutLogEvents', 'application/json', '{}'), undefined);
  });

  it('refuses an empty 200 without a content type, HTML, a JSON array and a cut-off body, naming what is wrong', () => {
    // Act / Assess
    assert.match(jsonObjectAnswer('PutLogEvents', '', '') ?? '', /content type "\(none\)" is not JSON, empty body/);
    assert.match(jsonObjectAnswer('PutLogEvents', 'text/html; charset=utf-8', '{"nextSequenceToken":"1"}') ?? '', /text\/html/);
    assert.match(jsonObjectAnswer('PutLogEvents', 'application/x-amz-json-1.1', '[1]') ?? '', /not a JSON object/);
    assert.match(jsonObjectAnswer('PutLogEvents', 'application/x-amz-json-1.1', '{"nextSeq') ?? '', /body is not JSON: "\{\\"nextSeq"/);
  });

  it('takes a Query answer only when its root element is the operation\'s response', () => {
    // Prepare
    const good = '<?xml version="1.0"?>\n<DescribeTargetGroupsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"></DescribeTargetGroupsResponse>';
    // Act / Assess
    assert.equal(queryXmlAnswer('DescribeTargetGroups', 'text/xml', good), undefined);
    assert.match(queryXmlAnswer('DescribeTargetGroups', 'text/xml', '<html><body>502</body></html>') ?? '', /not a DescribeTargetGroups answer/);
    assert.match(queryXmlAnswer('DescribeTargetGroups', 'text/xml', '<DescribeLoadBalancersResponse/>') ?? '', /not a DescribeTargetGroups answer/);
    assert.match(queryXmlAnswer('DescribeTargetGroups', '', '') ?? '', /is not XML/);
  });
});

describe('failure kinds (the keys of "once per interval" logging)', () => {
  const withStatus = (name: string, status: number): Error => Object.assign(new Error('x'), { name, $metadata: { httpStatusCode: status } });
  const transport = (name: string, code: string, message = 'x'): Error => Object.assign(new Error(message), { name, code });

  it('names transport failures by what happened, whatever the SDK calls the error', () => {
    // Act / Assess: the SDK names a dropped connection TimeoutError with code ECONNRESET.
    assert.equal(failureKind(transport('TimeoutError', 'ECONNRESET', 'socket hang up')), 'connection-lost');
    assert.equal(failureKind(transport('Error', 'ECONNRESET', 'aborted')), 'connection-lost');
    assert.equal(failureKind(transport('Error', 'ECONNREFUSED')), 'connection-refused');
    assert.equal(failureKind(transport('TimeoutError', 'ETIMEDOUT')), 'timeout');
    assert.equal(failureKind(Object.assign(new Error('socket timed out'), { name: 'TimeoutError' })), 'timeout');
  });

  it('names bad answers, throttling and server errors, and leaves other AWS errors by name', () => {
    // Act / Assess
    assert.equal(failureKind(new UnverifiedAnswerError(200, 'empty')), 'unverified-answer');
    assert.equal(failureKind(Object.assign(new SyntaxError('Unexpected token <'), { $metadata: { httpStatusCode: 502 } })), 'unparseable-answer');
    assert.equal(failureKind(new Error('@aws-sdk XML parse error: unexpected end of input.\n  Deserialization error: ...')), 'unparseable-answer');
    assert.equal(failureKind(withStatus('ThrottlingException', 400)), 'throttled');
    assert.equal(failureKind(withStatus('ServiceUnavailableException', 503)), 'server-error:ServiceUnavailableException');
    assert.equal(failureKind(withStatus('AccessDeniedException', 400)), 'AccessDeniedException');
  });

  it('retries an unverified answer like any transient failure', () => {
    // Act / Assess
    assert.equal(classifyAwsError(new UnverifiedAnswerError(200, 'empty')), ErrorKind.Transient);
  });
});

describe('LogOnce.take (one line per kind per interval, with the held-back count)', () => {
  it('logs the first failure, holds back repeats within the interval, and reports them on the next line', () => {
    // Prepare
    const once = new LogOnce(1000);
    // Act
    const seen = [once.take('a', 0), once.take('a', 10), once.take('a', 20), once.take('b', 30), once.take('a', 1000), once.take('a', 1001)];
    // Assess
    assert.deepEqual(seen, [0, undefined, undefined, 0, 2, undefined]);
    assert.deepEqual(once.unreported(), { a: 1 });
    assert.equal(once.suppressed, 3);
  });

  it('starts afresh after reset (a recovery)', () => {
    // Prepare
    const once = new LogOnce(1000);
    once.take('a', 0);
    once.take('a', 1);
    // Act
    once.reset();
    // Assess
    assert.equal(once.take('a', 2), 0);
    assert.deepEqual(once.unreported(), {});
  });
});

describe('withDeadline (a whole-call limit on top of the SDK\'s per-phase timeouts)', () => {
  const hang = (signal: AbortSignal): Promise<never> =>
    new Promise((_, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))));

  it('aborts a call that outlives the deadline and names it a timeout', async () => {
    // Act
    const started = Date.now();
    const err = await withDeadline(50, undefined, hang).catch((e: unknown) => e);
    // Assess
    assert.ok(err instanceof CallDeadlineError);
    assert.equal(failureKind(err), 'timeout');
    assert.ok(Date.now() - started < 1_000);
  });

  it('passes a shutdown abort through unchanged, and leaves a quick call alone', async () => {
    // Prepare
    const stop = new AbortController();
    // Act
    const pending = withDeadline(10_000, stop.signal, hang).catch((e: unknown) => e);
    stop.abort();
    const err = (await pending) as Error;
    const ok = await withDeadline(1_000, stop.signal, async () => 42).catch(() => 'aborted');
    const fresh = await withDeadline(1_000, undefined, async () => 42);
    // Assess
    assert.equal(err.name, 'AbortError');
    assert.equal(ok, 42, 'an already-stopped signal aborts the call\'s signal; a call that ignores it still returns');
    assert.equal(fresh, 42);
  });
});
