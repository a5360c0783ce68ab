import { field } from './account-api.ts';
import type { Submitted } from './fleet-api.ts';

/** What the "Send a schedule" form becomes: the API call to make, or why the form cannot be sent (worded for people). */
export type ScheduleRequest = { path: string; body: Record<string, unknown>; done(answer: Submitted): string } | { error: string };

const num = (form: FormData, name: string): number | undefined => {
  const v = field(form, name).trim();
  return v === '' ? undefined : Number(v);
};

/**
 * The form's fields as a POST /api/v1/schedules body: one interval [start, start + minutes) with its action and
 * power or target SoC; to a group or the fleet with the rollout's rate and abort threshold. The API judges the
 * schedule itself (limits, SoC feasibility) and its refusal is shown as it words it.
 */
export function scheduleRequest(form: FormData): ScheduleRequest {
  const target = field(form, 'target');
  const targetId = field(form, 'targetId').trim();
  const startText = field(form, 'start');
  const start = new Date(/Z|[+-]\d\d:\d\d$/.test(startText) ? startText : `${startText}Z`);
  const minutes = num(form, 'minutes');
  if (Number.isNaN(start.getTime())) return { error: 'Start: give a date and time (UTC).' };
  if (minutes === undefined || !Number.isFinite(minutes) || minutes <= 0) return { error: 'Minutes: give the interval\'s length in minutes.' };
  if ((target === 'group' || target === 'device') && !targetId) return { error: `Group or device id: say which ${target}.` };
  const action = field(form, 'action');
  const powerKw = num(form, 'powerKw');
  const targetSoc = num(form, 'targetSoc');
  const interval = {
    start: start.toISOString(), end: new Date(start.getTime() + minutes * 60_000).toISOString(), action,
    ...(action === 'charge' || action === 'discharge' ? (powerKw !== undefined ? { powerKw } : {}) : {}),
    ...(targetSoc !== undefined && action !== 'idle' ? { targetSoc } : {}),
  };
  const priority = num(form, 'priority');
  const common = { intervals: [interval], ...(priority !== undefined ? { priority } : {}) };
  if (target === 'device') {
    return { path: '/api/v1/schedules', body: { deviceId: targetId, ...common }, done: (a) => (a.kind === 'device' ? `Schedule accepted as version ${a.version} for ${a.deviceId} (${a.state}).` : 'Schedule accepted.') };
  }
  const maxPerMinute = num(form, 'maxPerMinute');
  const abortFailurePct = num(form, 'abortFailurePct');
  const rollout = {
    ...(maxPerMinute !== undefined ? { maxPerMinute } : {}),
    // the ramp starts at a tenth of the rate and doubles every minute up to it
    ...(field(form, 'ramp') === 'exponential' ? { exponential: { basePerMinute: Math.max(1, Math.round((maxPerMinute ?? 1000) / 10)), incrementFactor: 2 } } : {}),
    ...(abortFailurePct !== undefined ? { abortFailurePct } : {}),
  };
  return {
    path: '/api/v1/schedules', body: { ...(target === 'group' ? { groupId: targetId } : { fleet: true }), ...common, rollout },
    done: (a) => {
      if (a.kind !== 'rollout') return 'Schedule accepted.';
      const skipped = a.skipped.reduce((n, g) => n + g.count, 0);
      const why = a.skipped.map((g) => `${g.count} ${g.reason}`).join(', ');
      return `Rollout ${a.rolloutId.slice(0, 8)} started to ${a.total - skipped} devices${skipped ? `; ${skipped} skipped (${why})` : ''}: its progress is below.`;
    },
  };
}
