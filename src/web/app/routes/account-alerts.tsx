import type { MetaFunction } from 'react-router';
import { AlertsSection } from '../components/alerts-section.tsx';

export const meta: MetaFunction = () => [{ title: 'Your alerts · GridPulse' }, { name: 'robots', content: 'noindex' }];

export default function AccountAlerts() {
  return <><h1>Your alerts</h1><AlertsSection /></>;
}
