/**
 * A successful-looking answer is not trusted blindly. The SDK takes an HTTP 200 with an
 * empty body, or with a valid body under a text/html content type, as success: for
 * PutLogEvents that would move the cursor past events CloudWatch may never have stored
 * (a proxy's empty 200), and for a Describe* call it would replace the load balancer
 * picture with an empty one. This middleware sits just inside the SDK's deserializer,
 * reads a 2xx body once, and throws UnverifiedAnswerError (retried like any transient
 * failure) when the answer is not plainly the service's own.
 */
import type { DeserializeHandler, DeserializeHandlerArguments, DeserializeHandlerOutput, HandlerExecutionContext, MiddlewareStack } from '@aws-sdk/types';

/** A 2xx answer that cannot be the service's: retried, never taken as success. */
export class UnverifiedAnswerError extends Error {
  override readonly name = 'UnverifiedAnswer';
  readonly $metadata: { httpStatusCode: number };

  constructor(status: number, problem: string) {
    super(`answer not trusted (HTTP ${status}): ${problem}`);
    this.$metadata = { httpStatusCode: status };
  }
}

/** Says what is wrong with a 2xx answer, or undefined when it can be trusted. */
export type AnswerCheck = (operation: string, contentType: string, body: string) => string | undefined;

/**
 * JSON protocols (CloudWatch Logs): a JSON content type, and a body that is a JSON
 * object. An empty body is accepted only under a JSON content type (that is how the
 * service itself could answer); without one it is a middlebox's empty 200.
 */
export const jsonObjectAnswer: AnswerCheck = (_operation, contentType, body) => {
  if (!/json/i.test(contentType)) return `content type ${JSON.stringify(contentType || '(none)')} is not JSON${body === '' ? ', empty body' : ''}`;
  if (body.trim() === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? undefined : 'body is not a JSON object';
  } catch {
    return `body is not JSON: ${preview(body)}`;
  }
};

/** Query protocols (ELB, ELBv2, EC2): an XML content type and a body whose root is <OperationResponse. */
export const queryXmlAnswer: AnswerCheck = (operation, contentType, body) => {
  if (!/xml/i.test(contentType)) return `content type ${JSON.stringify(contentType || '(none)')} is not XML`;
  const start = body.replace(/^\uFEFF?\s*(<\?xml[^>]*\?>\s*)?/, '');
  return start.startsWith(`<${operation}Response`) ? undefined : `body is not a ${operation} answer: ${preview(body)}`;
};

function preview(body: string): string {
  return JSON.stringify(body.slice(0, 60));
}

type HttpLikeResponse = { statusCode: number; headers: Record<string, string | undefined>; body: unknown };

async function readBody(body: unknown): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  if (body !== null && typeof body === 'object' && Symbol.asyncIterator in body) {
    const chunks: Buffer[] = [];
    for await (const c of body as AsyncIterable<Buffer | string>) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
    return Buffer.concat(chunks);
  }
  return new Uint8Array();
}

/**
 * Adds the check to a client's middleware stack for the named operations (all when
 * `operations` is undefined). Non-2xx answers are left to the SDK's error parsing.
 */
export function addAnswerCheck(
  stack: MiddlewareStack<object, object>, check: AnswerCheck, operations?: ReadonlySet<string>,
): void {
  stack.addRelativeTo(
    (next: DeserializeHandler<object, object>, context: HandlerExecutionContext) =>
      async (args: DeserializeHandlerArguments<object>): Promise<DeserializeHandlerOutput<object>> => {
        const result = await next(args);
        const operation = (context.commandName ?? '').replace(/Command$/, '');
        const response = result.response as HttpLikeResponse;
        if (operations !== undefined && !operations.has(operation)) return result;
        if (!(response.statusCode >= 200 && response.statusCode < 300)) return result;
        const bytes = await readBody(response.body);
        // The SDK's deserializer reads the body again; it accepts a Uint8Array.
        response.body = bytes;
        const contentType = response.headers['content-type'] ?? response.headers['Content-Type'] ?? '';
        const problem = check(operation, contentType, Buffer.from(bytes).toString('utf8'));
        if (problem !== undefined) throw new UnverifiedAnswerError(response.statusCode, problem);
        return result;
      },
    { relation: 'after', toMiddleware: 'deserializerMiddleware', name: 'lbtaAnswerCheck', override: true },
  );
}
