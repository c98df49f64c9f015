import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, ProblemError, type ProblemDetails } from './problem.js';

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable request',
  429: 'Too many requests',
  503: 'Service unavailable',
};

const slugOf = (status: number) => (TITLES[status] ?? 'error').toLowerCase().replace(/ /g, '-');

/** Turns every exception into an RFC 9457 problem+json response. Unknown errors become a bare 500. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const problem = this.toProblem(exception);
    problem.instance = req.originalUrl;
    if (problem.status >= 500) {
      // The cause is logged for operators (with the request id); the client sees no internals.
      this.logger.error({ err: exception, url: req.originalUrl }, 'request failed');
    }
    res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
  }

  toProblem(exception: unknown): ProblemDetails {
    if (exception instanceof ProblemError) {
      return {
        type: PROBLEM_TYPE_BASE + exception.slug,
        title: exception.title,
        status: exception.status,
        detail: exception.message,
        ...exception.extensions,
      };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const problem: ProblemDetails = {
        type: PROBLEM_TYPE_BASE + slugOf(status),
        title: TITLES[status] ?? 'Error',
        status,
        detail: exception.message,
      };
      if (typeof body === 'object' && body !== null) {
        const b = body as Record<string, unknown>;
        if (Array.isArray(b.errors)) {
          problem.type = PROBLEM_TYPE_BASE + 'validation-failed';
          problem.errors = b.errors as ProblemDetails['errors'];
        }
        if (typeof b.detail === 'string') problem.detail = b.detail;
      }
      // Body-parser failures reach us wrapped by the HTTP adapter; say what is wrong plainly.
      const cause = (exception as { cause?: { type?: unknown } }).cause;
      if (cause instanceof SyntaxError || cause?.type === 'entity.parse.failed') problem.detail = 'the request body is not valid JSON';
      if (cause?.type === 'entity.too.large') problem.detail = 'the request body is too large';
      return problem;
    }
    // Body parser failures (malformed JSON, too large) arrive as plain errors with a status.
    const e = exception as { status?: unknown; type?: unknown; message?: unknown };
    if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
      const detail =
        e.type === 'entity.parse.failed'
          ? 'the request body is not valid JSON'
          : e.type === 'entity.too.large'
            ? 'the request body is too large'
            : String(e.message ?? 'bad request');
      return { type: PROBLEM_TYPE_BASE + slugOf(e.status), title: TITLES[e.status] ?? 'Error', status: e.status, detail };
    }
    return {
      type: PROBLEM_TYPE_BASE + 'internal-error',
      title: 'Internal server error',
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      detail: 'the service failed to handle this request; it has been logged',
    };
  }
}
