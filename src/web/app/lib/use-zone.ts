import { useEffect, useState } from 'react';
import { useRouteLoaderData } from 'react-router';
import { DEFAULT_PREFS, type Prefs } from './prefs.ts';

export interface DisplayZone { timeZone: string; label: string }

export function usePrefs(): Prefs {
  return useRouteLoaderData<{ prefs: Prefs }>('root')?.prefs ?? DEFAULT_PREFS;
}

/**
 * Where times are shown, per the visitor's preference. "Viewer local" is unknown to the server, so the first
 * render (and pages without JavaScript) shows UTC, labelled, and the browser switches to its own zone.
 */
export function useDisplayZone(baTimeZone: string | undefined): DisplayZone {
  const { time } = usePrefs();
  const [viewer, setViewer] = useState<string | null>(null);
  useEffect(() => { if (time === 'viewer') setViewer(Intl.DateTimeFormat().resolvedOptions().timeZone); }, [time]);
  if (time === 'utc' || (time === 'ba' && !baTimeZone)) return { timeZone: 'UTC', label: 'UTC' };
  if (time === 'viewer') return viewer ? { timeZone: viewer, label: 'your time' } : { timeZone: 'UTC', label: 'UTC' };
  return { timeZone: baTimeZone!, label: 'local' };
}
