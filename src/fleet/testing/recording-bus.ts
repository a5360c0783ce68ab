import type { FleetBus } from '../contract.ts';
import type { ScheduleMessage } from '../messages.ts';
import { publishableSchedule } from '../bus/publish-refusal.ts';

/**
 * A FleetBus for tests: records every published schedule, in order. `failing` makes the next publishes reject
 * (a broker that is down), so tests can see the ledger keep a version queued and re-publish it later. Like
 * MqttFleetBus it refuses (PublishRefusedError) a message that fails the schema or is over the broker's packet limit.
 */
export class RecordingFleetBus implements FleetBus {
  readonly published: ScheduleMessage[] = [];
  failing = false;
  async publishSchedule(msg: ScheduleMessage): Promise<void> {
    publishableSchedule(msg, 5);
    if (this.failing) throw new Error('broker unreachable (RecordingFleetBus.failing)');
    this.published.push(structuredClone(msg));
  }
  /** The messages published for one device, oldest first. */
  forDevice(deviceId: string): ScheduleMessage[] { return this.published.filter((m) => m.deviceId === deviceId); }
}
