import { traceFields } from './tracing.ts';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/**
 * A logger carrying `fields`: a child with only those not already bound with the same value, so a line
 * never names `runId` twice (pino writes a child's bindings and the call's object side by side, both kept).
 * Use it where a function is handed a logger that may or may not carry its context yet.
 */
export function withFields(logger: Logger, fields: Record<string, unknown>): Logger {
  const bound = logger.bindings();
  const missing = Object.fromEntries(Object.entries(fields).filter(([k, v]) => !(k in bound) || bound[k] !== v));
  return Object.keys(missing).length ? logger.child(missing) : logger;
}

/**
 * Every process role's root logger: structured JSON (pino) whose lines hold each key once. A call that
 * repeats a field its logger already binds, with the same value (`log.info({ runId }, …)` on a child of
 * `{ runId }`), drops the repeat; a different value is kept, as it says something new. With tracing on
 * (platform/tracing.ts), a line written inside a span carries `trace_id` and `span_id`.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    // the active span's trace_id and span_id (OpenTelemetry), when tracing is on and a span is active
    mixin: traceFields,
    hooks: {
      logMethod(args, method) {
        const [first] = args;
        if (first && typeof first === 'object' && !(first instanceof Error)) {
          const bound = this.bindings();
          const own = Object.entries(first as Record<string, unknown>);
          if (own.some(([k, v]) => k in bound && bound[k] === v)) {
            args[0] = Object.fromEntries(own.filter(([k, v]) => !(k in bound && bound[k] === v)));
          }
        }
        return method.apply(this, args);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
