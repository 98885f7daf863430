import { UlidFactory } from './id.js';
import { formatMicros, SCHEMA_VERSION, type AnalyzerEvent, type EventType } from './schema.js';

export type EventInput = Omit<AnalyzerEvent, 'v' | 'id' | 'time' | 'type' | 'reason' | 'message'> & {
  readonly [detail: string]: unknown;
};

/** Builds events with a fresh id and the schema version; one per pipeline. */
export class EventFactory {
  readonly #ids = new UlidFactory();

  create(type: EventType, reason: string, message: string, tsMicros: number, fields: EventInput = {}): AnalyzerEvent {
    const event: AnalyzerEvent = {
      v: SCHEMA_VERSION,
      id: this.#ids.next(Math.floor(tsMicros / 1000)),
      time: formatMicros(tsMicros),
      type,
      reason,
      message,
      ...fields,
    };
    return event;
  }
}
