import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { Outage } from './outage.ts';

export { SpanKind };
export type { Span };

/** The one tracer of GridPulse (instrumentation scope `gridpulse`). */
const tracer = () => trace.getTracer('gridpulse');

let enabled = false;

/** Whether a tracer provider is installed (startTracing): without one every helper here is a plain call. */
export const tracingEnabled = (): boolean => enabled;

export interface TracingOptions {
  /** The process role (web, worker, gateway, start): the resource's `service.name` is `gridpulse-<role>`. */
  role: string;
  /** `service.version` (default: the package's version as npm reports it, else `dev`) */
  version?: string;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL; spans are POSTed (OTLP/HTTP JSON) to `<endpoint>/v1/traces`. */
  endpoint?: string | undefined;
  /** Further exporters (tests: an InMemorySpanExporter), each fed span by span. */
  exporters?: SpanExporter[];
  /** Where the OTLP exporter says it drops spans (once when exports start failing, once when they succeed again). */
  logger?: Pick<Logger, 'warn' | 'info'>;
}

/**
 * The OTLP exporter, telling when spans are lost: the SDK drops a batch the collector refused or never answered
 * without a word (its error handler logs nowhere), so the first failed export logs one warn line `spans not exported`
 * (the error, the spans dropped) and the first success after that one info line with the total dropped meanwhile.
 */
class ReportingExporter implements SpanExporter {
  private readonly outage = new Outage();
  private dropped = 0;
  private readonly inner: SpanExporter;
  private readonly logger: Pick<Logger, 'warn' | 'info'> | undefined;
  constructor(inner: SpanExporter, logger: Pick<Logger, 'warn' | 'info'> | undefined) { this.inner = inner; this.logger = logger; }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) {
        this.dropped += spans.length;
        if (this.outage.failed()) this.logger?.warn({ err: result.error?.message ?? 'export failed', spans: spans.length }, 'tracing: spans not exported (dropped); the exporter keeps trying');
      } else if (this.outage.answered()) {
        this.logger?.info({ dropped: this.dropped }, 'tracing: spans exported again');
        this.dropped = 0;
      }
      done(result);
    });
  }

  shutdown(): Promise<void> { return this.inner.shutdown(); }
  forceFlush(): Promise<void> { return this.inner.forceFlush?.() ?? Promise.resolve(); }
}

export interface Tracing {
  /** Exports what is buffered (shutdown does it too). */
  flush(): Promise<void>;
  /**
   * Flushes, then uninstalls the provider: later spans are not recorded. Rejects when the flush fails (the spans in
   * hand are lost); it is not bounded here: a collector that never answers holds it for the exporter's 10 s, so a
   * stop bounds it (shutdown.ts).
   */
  shutdown(): Promise<void>;
}

/**
 * Installs the process-wide OpenTelemetry tracer provider (W3C trace context, AsyncLocalStorage context) when
 * there is somewhere to send spans: an OTLP endpoint (batched) or given exporters. With neither it installs
 * nothing and returns undefined: spans are then never created, so tracing costs nothing when unconfigured.
 */
export function startTracing(opts: TracingOptions): Tracing | undefined {
  const processors: SpanProcessor[] = [];
  if (opts.endpoint) {
    const url = `${opts.endpoint.replace(/\/$/, '')}/v1/traces`;
    processors.push(new BatchSpanProcessor(new ReportingExporter(new OTLPTraceExporter({ url }), opts.logger), { scheduledDelayMillis: 1000 }));
  }
  for (const e of opts.exporters ?? []) processors.push(new SimpleSpanProcessor(e));
  if (processors.length === 0) return undefined;
  if (enabled) throw new Error('startTracing: a tracer provider is already installed in this process');
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: `gridpulse-${opts.role}`, [ATTR_SERVICE_VERSION]: opts.version ?? 'dev' }),
    spanProcessors: processors,
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  enabled = true;
  return {
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      try { await provider.shutdown(); } finally {
        trace.disable(); context.disable(); propagation.disable();
        enabled = false;
      }
    },
  };
}

/**
 * Runs fn inside a new active span `name` (child of the active span, or a root with `root: true`), ending it when
 * fn settles; a throw is recorded on the span (status ERROR) and rethrown. Without tracing, just runs fn.
 */
export async function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>, opts: { kind?: SpanKind; root?: boolean; links?: Link[] } = {}): Promise<T> {
  if (!enabled) return fn(undefined);
  return tracer().startActiveSpan(name, { kind: opts.kind ?? SpanKind.INTERNAL, attributes, root: opts.root ?? false, links: opts.links ?? [] }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Marks a span failed by err (exception event plus status ERROR with its message). */
export function failSpan(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/** Starts (does not activate) a span under `parent`; undefined without tracing. The caller ends it. */
export function startSpan(name: string, attributes: Attributes, kind: SpanKind, parent: Context = context.active()): Span | undefined {
  return enabled ? tracer().startSpan(name, { kind, attributes }, parent) : undefined;
}

/** `trace_id` and `span_id` of the active span, for log lines; empty outside a recorded span. */
export function traceFields(): { trace_id?: string; span_id?: string } {
  if (!enabled) return {};
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && trace.isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

/** Headers carrying the active context (`traceparent`, `tracestate`): added to outgoing HTTP requests. */
export function injectHeaders(headers: Record<string, string> = {}): Record<string, string> {
  if (enabled) propagation.inject(context.active(), headers);
  return headers;
}

/** The context a carrier (HTTP headers, MQTT user properties) names, on top of the active one. */
export function extractContext(carrier: Record<string, string | string[] | undefined>): Context {
  if (!enabled) return context.active();
  return propagation.extract(context.active(), carrier, {
    keys: (c) => Object.keys(c),
    get: (c, key) => {
      const v = c[key] ?? c[Object.keys(c).find((k) => k.toLowerCase() === key) ?? ''];
      return Array.isArray(v) ? v[0] : v;
    },
  });
}

/** Runs fn with ctx active (e.g. the context extracted from a message, so the handler's spans join its trace). */
export function withContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}

/** MQTT 5 user properties (mqtt.js `properties.userProperties`). */
export type MqttUserProperties = Record<string, string | string[]>;

/**
 * The fleet's trace hop over MQTT 5: the active context as user properties (`traceparent`, and `tracestate` when
 * set) merged into `props`, for `client.publish(topic, payload, { properties: { userProperties } })`.
 */
export function injectMqtt(props: MqttUserProperties = {}): MqttUserProperties {
  const carrier: Record<string, string> = {};
  if (enabled) propagation.inject(context.active(), carrier);
  return { ...props, ...carrier };
}

/** The context a received MQTT 5 message carries in its user properties (the active one when it carries none). */
export function extractMqtt(props: MqttUserProperties | undefined): Context {
  return extractContext(props ?? {});
}

/** W3C trace context as MQTT 5 user properties: what a hop without a tracer of its own passes on unchanged. */
export type TraceCarrier = { traceparent: string; tracestate?: string };

/** Upper bound of a carrier's `tracestate` (W3C: 32 members of at most 256 characters, so 8,192 plus separators). */
const MAX_TRACESTATE = 8_192 + 31;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The trace context (`traceparent`, `tracestate`) of received MQTT 5 user properties, to be sent back on the reply
 * (the battery agent's ack carries its schedule's context, so the gateway's span joins the API call's trace);
 * undefined when they carry none or a malformed one. Works without a tracer: the agent only relays it.
 */
export function mqttTraceCarrier(props: MqttUserProperties | undefined): TraceCarrier | undefined {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const traceparent = one(props?.traceparent);
  if (!traceparent || !TRACEPARENT.test(traceparent)) return undefined;
  const tracestate = one(props?.tracestate);
  return tracestate && tracestate.length <= MAX_TRACESTATE ? { traceparent, tracestate } : { traceparent };
}
