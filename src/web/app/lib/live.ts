import { useEffect, useState } from 'react';
import { useRevalidator } from 'react-router';

/**
 * Subscribes to /api/v1/live for the BAs shown and re-runs the page's loaders when a new hour lands,
 * so numbers and charts update without a reload. Returns when the last update arrived (null before).
 */
export function useLiveUpdates(bas: string[] | 'all'): { lastEvent: string | null; connected: boolean } {
  const revalidator = useRevalidator();
  const [lastEvent, setLast] = useState<string | null>(null);
  const [connected, setConnected] = useState(false);
  const key = bas === 'all' ? 'all' : bas.join(',');
  useEffect(() => {
    if (!key || typeof EventSource === 'undefined') return;
    const source = new EventSource(key === 'all' ? '/api/v1/live' : `/api/v1/live?ba=${encodeURIComponent(key)}`);
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(false);
    source.addEventListener('hours', (e) => {
      try { setLast((JSON.parse((e as MessageEvent<string>).data) as { newest: string }).newest); } catch { setLast(new Date().toISOString()); }
      void revalidator.revalidate();
    });
    return () => source.close();
  }, [key]);
  return { lastEvent, connected };
}
