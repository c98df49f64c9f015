/**
 * RFC 9457 problem details. Every error the API returns has this shape and the media type
 * application/problem+json. Domain code throws ProblemError (or a subclass) with a message a
 * person can act on; the exception filter turns it into a response. Messages must never carry
 * secrets (keys, PINs, shares, private inputs).
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'https://privacy-service.dev/problems/';

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  /** Field-level validation errors, when the problem is a rejected request body. */
  errors?: { field: string; message: string }[];
  [extension: string]: unknown;
}

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    /** Short slug appended to PROBLEM_TYPE_BASE, e.g. 'validation-failed'. */
    readonly slug: string,
    readonly title: string,
    detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
  }
}

export const badRequest = (detail: string, ext?: Record<string, unknown>) =>
  new ProblemError(400, 'bad-request', 'Bad request', detail, ext);
export const notFound = (detail: string) => new ProblemError(404, 'not-found', 'Not found', detail);
export const conflict = (detail: string, ext?: Record<string, unknown>) =>
  new ProblemError(409, 'conflict', 'Conflict', detail, ext);
export const unprocessable = (slug: string, detail: string, ext?: Record<string, unknown>) =>
  new ProblemError(422, slug, 'Unprocessable request', detail, ext);
