import { STATUS_CODES } from 'node:http';

/** One error type with an HTTP status; turned into application/problem+json in one handler. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly field: string | undefined;
  constructor(status: number, detail: string, field?: string) {
    super(detail);
    this.status = status;
    this.field = field;
  }
}

/** The application/problem+json body (RFC 9457) of a status, with the field at fault when there is one. */
export function problemBody(status: number, detail: string, field?: string) {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, ...(field ? { field } : {}) };
}
