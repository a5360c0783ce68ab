import { useEffect, useRef } from 'react';
import { useRevalidator, useRouteLoaderData } from 'react-router';
import { canonicalZone, DEFAULT_PREFS, serializePrefs, type Prefs } from './prefs.ts';

export interface DisplayZone { timeZone: string; label: string }

export function usePrefs(): Prefs {
  return useRouteLoaderData<{ prefs: Prefs }>('root')?.prefs ?? DEFAULT_PREFS;
}

/** The browser's own IANA zone, canonical as the server stores it (undefined on the server or if unknown). */
export function browserZone(): string | undefined {
  if (typeof window === 'undefined') return undefined;
  try { return canonicalZone(Intl.DateTimeFormat().resolvedOptions().timeZone); } catch { return undefined; }
}

/**
 * Where times are shown, per the visitor's preference. "My local time" uses the zone stored in the preferences
 * cookie, so the server renders it and hydration yields the same text; until the zone is known (no JavaScript
 * yet) those times are shown in UTC, labelled so. Pure: the same on server and client.
 */
export function displayZone(prefs: Pick<Prefs, 'time' | 'zone'>, baTimeZone: string | undefined): DisplayZone {
  if (prefs.time === 'viewer') return prefs.zone ? { timeZone: prefs.zone, label: prefs.zone } : { timeZone: 'UTC', label: 'UTC' };
  if (prefs.time === 'utc' || !baTimeZone) return { timeZone: 'UTC', label: 'UTC' };
  return { timeZone: baTimeZone, label: 'local' };
}

export function useDisplayZone(baTimeZone: string | undefined): DisplayZone {
  return displayZone(usePrefs(), baTimeZone);
}

/**
 * After hydration, when times are shown in the viewer's zone and the stored zone is not the browser's (first
 * visit after choosing it without JavaScript, or the viewer travelled), stores the browser's zone in the cookie
 * and reloads the loader data once, so every time on the page (and every later server render) uses it.
 */
export function useRecordViewerZone(): void {
  const { ba, time, theme, zone } = usePrefs();
  const revalidator = useRevalidator();
  const revalidate = useRef(revalidator.revalidate);
  revalidate.current = revalidator.revalidate;
  // Primitive dependencies only: new loader data with the same preferences (say the server refused the zone)
  // must not start another round.
  useEffect(() => {
    if (time !== 'viewer') return;
    const mine = browserZone();
    if (!mine || mine === zone) return;
    document.cookie = serializePrefs({ ba, time, theme, zone: mine });
    void revalidate.current();
  }, [ba, time, theme, zone]);
}
