import type { Config } from '@react-router/dev/config';

// The web UI lives in src/web/app; its production build (server bundle + client assets) goes to build/web,
// which src/web/server.ts mounts on the same Fastify process as the API.
export default {
  appDirectory: 'src/web/app',
  buildDirectory: 'build/web',
  ssr: true,
} satisfies Config;
