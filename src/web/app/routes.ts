import { type RouteConfig, index, route } from '@react-router/dev/routes';

export default [
  index('routes/home.tsx'),
  route('ba', 'routes/ba-pick.tsx'),
  route('ba/:code', 'routes/ba.tsx'),
  route('compare', 'routes/compare.tsx'),
  route('pipeline', 'routes/pipeline.tsx'),
  route('methodology', 'routes/methodology.tsx'),
  route('embed/ba/:code/:kind', 'routes/embed.tsx'),
  route('prefs', 'routes/prefs.tsx'),
  route('signin', 'routes/signin.tsx'),
  route('signout', 'routes/signout.tsx'),
  route('invite/:token', 'routes/invite.tsx'),
  route('account', 'routes/account.tsx'),
  route('admin', 'routes/admin.tsx'),
  route('account/views', 'routes/account-views.tsx'),
  route('account/alerts', 'routes/account-alerts.tsx'),
  route('*', 'routes/not-found.tsx'),
] satisfies RouteConfig;
