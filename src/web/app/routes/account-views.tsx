import type { MetaFunction } from 'react-router';
import { SavedViewsSection } from '../components/saved-views-section.tsx';

export const meta: MetaFunction = () => [{ title: 'Your saved views · GridPulse' }, { name: 'robots', content: 'noindex' }];

export default function AccountViews() {
  return <><h1>Your saved views</h1><SavedViewsSection /></>;
}
