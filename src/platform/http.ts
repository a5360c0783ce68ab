import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, jsonSchemaTransform, hasZodFastifySchemaValidationErrors} from 'fastify-type-provider-zod';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import { HttpProblem, problemBody as problem } from './problem.ts';

/** Fastify with zod validation, OpenAPI from the same schemas, and problem+json errors. */
export async function createHttp(logger: Logger): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: logger as unknown as FastifyBaseLogger, genReqId: () => crypto.randomUUID(), requestIdHeader: 'x-request-id' });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((err, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issue = err.validation[0]!;
      const zodPath = (issue.params as { issue?: { path?: unknown[] } } | undefined)?.issue?.path;
      const field = String(issue.instancePath || '').replace(/^\//, '') || (zodPath ?? []).join('.');
      return reply.code(400).type('application/problem+json')
        .send(problem(400, `${field}: ${issue.message}`, field || undefined));
    }
    if (err instanceof HttpProblem) {
      return reply.code(err.status).type('application/problem+json')
        .send(problem(err.status, err.message, err.field));
    }
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    return reply.code(status).type('application/problem+json')
      .send(problem(status, status >= 500 ? 'internal error' : (err as Error).message));
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).type('application/problem+json').send(problem(404, `no route ${req.method} ${req.url}`)));
  await app.register(swagger, {
    openapi: {
      info: { title: 'GridPulse API', version: '1', description: 'Open data on the US grid: EIA-930 observations, carbon intensity and daily analytics. Public reads need no key; the data API needs a worker key.' },
      components: { securitySchemes: { workerKey: { type: 'http', scheme: 'bearer', description: 'A worker key from `gridpulse keys create --role worker`' } } },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
