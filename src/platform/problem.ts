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
