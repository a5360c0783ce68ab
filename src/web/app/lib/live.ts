import { useEffect, useRef, useState } from 'react';
import { useRevalidator } from 'react-router';

/** Opens an EventSource on `url` (none when null) and calls `onEvent` with each `event`'s data; reports whether it is connected. */
function useEventStream(url: string | null, event: string, onEvent: (data: string) => void): boolean {
  const [connected, setConnected] = useState(false);
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    if (!url || typeof EventSource === 'undefined') return;
    const source = new EventSource(url);
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(false);
    source.addEventListener(event, (e) => handler.current((e as MessageEvent<string>).data));
    return () => source.close();
  }, [url, event]);
  return connected;
}

/**
 * Subscribes to /api/v1/live for the BAs shown and re-runs the page's loaders when a new hour lands,
 * so numbers and charts update without a reload. Returns when the last update arrived (null before).
 */
export function useLiveUpdates(bas: string[] | 'all'): { lastEvent: string | null; connected: boolean } {
  const revalidator = useRevalidator();
  const [lastEvent, setLast] = useState<string | null>(null);
  const key = bas === 'all' ? 'all' : bas.join(',');
  const connected = useEventStream(!key ? null : key === 'all' ? '/api/v1/live' : `/api/v1/live?ba=${encodeURIComponent(key)}`, 'hours', (data) => {
    try { setLast((JSON.parse(data) as { newest: string }).newest); } catch { setLast(new Date().toISOString()); }
    void revalidator.revalidate();
  });
  return { lastEvent, connected };
}

/** Fewest milliseconds between two re-fetches of a fleet page: a rollout to thousands of devices sends many events. */
const FLEET_REFRESH_MS = 500;

/**
 * Subscribes to /api/v1/fleet/live and re-runs the page's loaders on fleet changes, at most
 * every FLEET_REFRESH_MS (the last change in a burst always leads to a re-fetch). Returns how many events arrived.
 */
export function useFleetLive(): { connected: boolean; events: number } {
  const revalidator = useRevalidator();
  const [events, setEvents] = useState(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const last = useRef(0);
  useEffect(() => () => clearTimeout(timer.current), []);
  const connected = useEventStream('/api/v1/fleet/live', 'fleet', () => {
    setEvents((n) => n + 1);
    if (timer.current) return;
    const wait = Math.max(0, last.current + FLEET_REFRESH_MS - Date.now());
    timer.current = setTimeout(() => {
      timer.current = undefined;
      last.current = Date.now();
      void revalidator.revalidate();
    }, wait);
  });
  return { connected, events };
}
